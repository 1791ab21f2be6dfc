"""The shelter job: one Sungil DDC and the units it drives, polled over a shared Modbus line.

setup.py sets an entry up and hands the integration its Job; engine/ is the
DDC library, which imports nothing from Home Assistant.
"""

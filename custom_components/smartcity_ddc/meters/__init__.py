"""The meter-site job: meters (subentries) read from sensors, Modbus registers or pushed.

setup.py sets an entry up and hands the integration its Job; engine/ is the
statistics engine, which imports nothing from Home Assistant.
"""

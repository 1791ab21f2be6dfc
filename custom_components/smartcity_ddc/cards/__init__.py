"""The card-sync job: the access-control server's interface table into a local card registry.

setup.py sets an entry up and hands the integration its Job; engine/ is the
sync engine and database client, which import nothing from Home Assistant.
"""

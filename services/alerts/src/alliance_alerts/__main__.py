from alliance_alerts.entrypoints.app import create_app
from alliance_alerts.settings import AlertsSettings
from alliance_platform.service import serve

serve("alerts", create_app, AlertsSettings())

from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings
from alliance_platform.service import serve

serve("gateway", create_app, GatewaySettings())

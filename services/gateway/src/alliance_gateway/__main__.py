from alliance_shared.service import serve

from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings

serve("gateway", create_app, GatewaySettings())

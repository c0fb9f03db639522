from alliance_platform.service import serve
from alliance_scoring.entrypoints.app import create_app
from alliance_scoring.settings import ScoringSettings

serve("scoring", create_app, ScoringSettings())

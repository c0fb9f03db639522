from alliance_scoring.entrypoints.app import create_app
from alliance_scoring.settings import ScoringSettings
from alliance_shared.service import serve

serve("scoring", create_app, ScoringSettings())

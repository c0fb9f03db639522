from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from alliance_platform.service import serve

serve("intake", create_app, IntakeSettings())

from alliance_shared.service import serve

from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings

serve("intake", create_app, IntakeSettings())

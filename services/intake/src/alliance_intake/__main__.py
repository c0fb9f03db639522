from alliance_intake.entrypoints.server import run
from alliance_intake.settings import IntakeSettings

run(IntakeSettings())

from alliance_intake.entrypoints.server import run
from alliance_intake.settings import IntakeSettings

if __name__ == "__main__":  # not in the worker processes, which import this module again
    run(IntakeSettings())

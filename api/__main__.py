"""`python -m api`: the service under gunicorn, configured by api/gunicorn_conf.py."""

import sys
from pathlib import Path

from gunicorn.app.wsgiapp import run


def main() -> None:
    conf = Path(__file__).with_name("gunicorn_conf.py")
    sys.argv = ["gunicorn", "--config", str(conf), "api:create_app()"]
    run()


if __name__ == "__main__":
    main()

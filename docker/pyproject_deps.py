"""Prints the requirements of pyproject.toml, one a line: the base dependencies plus the extras
named on the command line. Lets an image install the dependencies without installing the project
(its code runs from the source tree, next to db/init.sql). Standard library only (Python 3.11+)."""

import sys
import tomllib

with open(sys.argv[1], "rb") as handle:
    project = tomllib.load(handle)["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[2:]:
    requirements += project["optional-dependencies"][extra]
print("\n".join(requirements))

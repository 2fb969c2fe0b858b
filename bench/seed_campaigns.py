"""Draft campaigns for the upload benchmark, in the benchmark's database (run with its env).

    python bench/seed_campaigns.py --workspace ID --count 5

Prints {"campaigns": [id, ...]}.
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from calls.agents import ensure_default_agent  # noqa: E402
from campaigns.models import Campaign  # noqa: E402
from workspaces.models import Workspace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args()
    workspace = Workspace.objects.get(pk=args.workspace)
    agent = ensure_default_agent(workspace)
    campaigns = [Campaign.objects.create(workspace=workspace, name=f"Upload {n}", agent=agent,
                                         from_number="+14155550100") for n in range(args.count)]
    print(json.dumps({"campaigns": [str(campaign.pk) for campaign in campaigns]}))


if __name__ == "__main__":
    main()

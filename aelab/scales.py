"""The scales every experiment has a preset for (light: the command line's --help reads it).

smoke  seconds; what the tests run
teach  under a minute on a 2-core machine (Binder); what the dashboards train live
full   the paper's architecture on the full training set, as many epochs as fit in about an
       hour on a 2-core CPU; every difference from the paper is listed with the preset and
       written into result.json ("deviations"); its results ship in results/full/
paper  the paper's settings (days on a CPU: a GPU)
"""

SCALES = ("smoke", "teach", "full", "paper")
SCALE_HELP = {
    "smoke": "seconds (tests)",
    "teach": "under a minute on 2 cores",
    "full": "the paper's architecture and data, about an hour on a 2-core CPU (deviations recorded)",
    "paper": "the paper's settings (days on a CPU: a GPU)",
}

"""The evaluation of generators and ablations at an equal budget, and the HTML reports of loops and evaluations."""

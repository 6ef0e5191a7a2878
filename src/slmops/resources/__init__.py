"""What a run costs: the machine it ran on, each stage's time and memory, training's resource curve."""

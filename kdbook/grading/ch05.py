"""Chapter 5 exercises (placeholder until the chapter lands)."""
EXERCISES = ()

"""Engine: pure computations over domain objects (allocation, planning, enforcement)."""

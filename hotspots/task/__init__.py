"""Tasking: teams, candidate places, dosage and the patrol optimiser."""

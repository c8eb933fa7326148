"""Plots and tables derived from the results: scores, scaling-law fits, allocations, alignment.

Everything here reads files other stages wrote (results/scores.csv, results/scaling/*.json,
results/allocation/*.json, results/analysis/alignment.json) and never recomputes a result: a
figure or table is a view of the data, so the report can be rebuilt without rerunning anything.
"""

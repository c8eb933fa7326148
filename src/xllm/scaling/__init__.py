"""Scaling laws S(X) = 100 − α·(γ·X)^β per language, language similarity γ, and budget allocation."""

"""The business core of Passe Marché: entities, value objects, rules and errors.

Nothing in this package imports a framework; a test walks the imports to keep it so.
"""

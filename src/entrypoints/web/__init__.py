"""Server-rendered pages (French, DSFR): the buyer's configuration and, later, the candidate's
application."""

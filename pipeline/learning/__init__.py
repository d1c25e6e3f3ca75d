"""Learning from outcomes: which allowed action tends to fix which kind of incident.

Learning only ranks and explains; the policy still decides what may run and what needs a
person. Pure: the facts come in as values, nothing is read or written here.
"""

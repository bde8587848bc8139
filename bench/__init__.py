"""Speed benchmark of the engine: how many simulated requests it gets through per wall-clock second.

A teaching simulator is only useful if a learner can change the architecture and see the effect
at once, and if a long run (a simulated day of traffic) takes seconds, not minutes. So the figure
that matters is simulated requests per wall second. Alone it says little; this package therefore
measures it three ways on the same M/M/c queue, where the right answer is known (Erlang C):
through the engine, through plain SimPy written as the textbook teaches, and through Ciw, a
dedicated queueing library. It then times the engine on a full scenario (load balancer, web
replicas, database with a read replica, self-hosted LLM), where every component costs events.

Run it with `make bench` (or `python -m bench`); `--quick` is a short smoke run. It prints figures
and never fails on them: it is a measurement, not a test.
"""

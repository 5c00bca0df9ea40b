"""The voice worker: gateway session, guild sessions, playback, reporting, the job consumer.

Entry points: ``voice_worker.cli`` (``musicbot worker|local|demo|resolve``) and
``voice_worker.bootstrap`` (``cloud_worker``, ``embedded_worker``, ``run``); the process is
``voice_worker.worker.Worker``. Nothing is imported here, so ``voice_worker.sources`` stays
importable without discord.py.
"""

"""The top layer: runs scenarios in ns-3, measures KPIs, drives campaigns, the closed loop and the evaluation.

Sub-packages in flow order (nothing is imported here, so ``import ani.orchestrator`` stays light):

=============  ====================================================================================
``cli``        the ``ani`` command line, thin over the library (``ani = ani.orchestrator.cli:main``)
``execute``    executors (local pool, Dask, Docker), ``execute_run``, run records, scenario vs baseline
``measure``    run folder -> typed frames (FlowMonitor, CSVs) -> KPIs, damage, golden checks
``campaign``   campaign files and plans, the crash-safe store, progress and the campaign driver
``loop``       the closed loop: generate -> validate -> simulate -> KPIs -> mitigate -> feedback
``evaluate``   every generator and ablation through the loop at an equal budget; HTML reports
=============  ====================================================================================
"""

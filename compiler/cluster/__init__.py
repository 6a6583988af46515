"""``kc.cluster``, the only part of kc that talks to a cluster: ``kc diff``, ``kc apply`` and
``kc teardown``.

    client        the connection (kubeconfig, context, in-cluster) and the few REST calls kc makes
    streams       the calls answered in a stream: a watch, a container's log
    rest          kinds and their paths, failure messages, the tally of requests sent
    pool          many objects' requests side by side, answered in plan order
    essence       what of an object a diff compares, and the field-by-field comparison
    live          the pipeline's objects in the cluster: one LIST per kind and namespace
    diff          to create, to change, orphaned, unchanged, conflicts; against the cluster or a DIR
    diff_text     a diff report as text (coloured on a terminal) or JSON
    gates         what each gate waits for, and the waiting
    pod_trouble   why a pod cannot run, read from its status, and what to do about it
    pod_watch     the pods behind a waiting gate: the one in trouble, its log tail and events
    apply         server-side apply bundle by bundle, then pruning
    run_teardown  the teardown plan (``kc.compiler.teardown``) executed step by step
    progress      the progress display on standard error
    view          the plan of a spec or of a compiled DIR, as status and logs read it
    status        ``kc status``: each step's gate, its pods, missing and drifted objects
    status_text   a status report as text, JSON and --watch's change lines
    logs          ``kc logs``: a stage's pods and their logs, prefixed per pod
    timing        durations and polling intervals

The Kubernetes client is imported only by ``client.connect``, so importing any of these modules
costs nothing, and ``kc compile`` never loads the client (docs/cluster.md).
"""

# The folder sits inside compiler/ (pyproject.toml maps kc.cluster to it); an editable install
# would also reach it as kc.compiler.cluster, and a module loaded under two names is two modules.
if __name__ != "kc.cluster":
    raise ImportError(f"{__name__}: kc's cluster code is the package kc.cluster")

"""The counting task's programs as the authors' generator draws them (facebookresearch/RAM,
projects/cope/scripts/count_data_gen.py), simulated independently of
src/tasks/counting.cpp (variant authors) so that baseline.py and shortcut.py can check
claims against it: no initialisation; each statement is a reset (weight 1, any
variable), pass (50) or increment (7, a variable already set); an increment that is
impossible (nothing set, or the variable at the cap 10) is rejected and the statement's
kind redrawn; the printed variable is one already set."""


def program(variables, statements, rng):
    """(trace, printed variable x, answer) for a program of `statements` statements, or
    None when no variable was set (the authors redraw such a program). trace holds
    ("reset", v), ("pass", None) and ("inc", v) in order; rng is anything with a
    random() in [0, 1)."""
    trace, value, set_order = [], {}, []
    for _ in range(statements):
        while True:  # an impossible increment redraws the statement's kind
            u = rng.random() * 58
            if u < 1:  # reset, any variable
                v = int(rng.random() * variables)
                if v not in value:
                    set_order.append(v)
                value[v] = 0
                trace.append(("reset", v))
                break
            if u < 51:  # pass
                trace.append(("pass", None))
                break
            if set_order:  # increment a variable already set, unless at the cap
                v = set_order[int(rng.random() * len(set_order))]
                if value[v] < 10:
                    value[v] += 1
                    trace.append(("inc", v))
                    break
    if not set_order:
        return None
    x = set_order[int(rng.random() * len(set_order))]
    return trace, x, value[x]

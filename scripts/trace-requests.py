#!/usr/bin/env python3
"""Where a request's time goes, from a Go execution trace of the server.

Usage:
  curl -so t.trace 'http://127.0.0.1:16161/debug/pprof/trace?seconds=5'   # ENGAGED_ADMIN_ADDR
  go tool trace -d=parsed t.trace > t.dump
  scripts/trace-requests.py t.dump [slow-ms] [kind]

A request is the span of a fasthttp worker goroutine from waking out of its
connection read to its next connection read. Each span is split into the
time the goroutine ran, waited runnable for a CPU, and was blocked, the
blocked time named by the innermost frame of its stack that says what it
waited for (Postgres, the JetStream acknowledgement, the actor's verdict, a
lock...). It prints the latency percentiles and, for all requests and for
those slower than slow-ms (default 5), the mean time per request in each
place: what the tail is made of, which a CPU profile cannot show. kind keeps
only requests whose stacks name it: post (render events), read (render
engagement), sdk (SDK events), seen, top, series; requests that never blocked
cannot be told apart and are kind "?".

The dump format is `go tool trace -d=parsed` of Go 1.26.
"""
import collections
import re
import sys

ST = re.compile(r'^M=\S+ P=\S+ G=\S+ StateTransition Time=(\d+) GoID=(\d+) (\w+)->(\w+) Reason="([^"]*)"')

# Frames that say what a blocked request waited for, innermost first wins.
WAITS = [('GetItem', 'postgres: item lookup'), ('pgxpool', 'postgres: pool'), ('pgconn', 'postgres'),
         ('jetlog', 'jetstream ack'), ('verdict', 'actor verdict'), ('PublishMsg', 'nats publish'),
         ('nats.go', 'nats client'), ('engaged/actors.', 'actors'), ('httpapi', 'httpapi')]
KINDS = [('postRenderEvent', 'post'), ('getRenderEngagement', 'read'), ('postEvent', 'sdk'),
         ('userSeen', 'seen'), ('Seen', 'seen'), ('top', 'top'), ('eries', 'series')]


def where(reason, stack):
    for fr in stack:
        for key, name in WAITS:
            if key in fr:
                return f"{reason}: {name} ({fr.split(' @')[0].rsplit('/', 1)[-1]})"
    return f"{reason}: {stack[0].split(' @')[0] if stack else '?'}"


def events(path):
    cur, stack = None, []
    with open(path) as f:
        for line in f:
            if line.startswith('M='):
                if cur:
                    yield cur + (stack,)
                m = ST.match(line)
                cur = (int(m[1]), int(m[2]), m[3], m[4], m[5]) if m else None
                stack = []
            elif cur and line.startswith('\t') and not line.startswith('\t\t'):
                stack.append(line.strip())
    if cur:
        yield cur + (stack,)


def conn_read(stack):
    return any('serveConn' in s for s in stack) and not any('httpapi.(*Server)' in s for s in stack)


def main():
    path = sys.argv[1]
    slow = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    want = sys.argv[3] if len(sys.argv) > 3 else None
    state, open_, done = {}, {}, []
    for t, g, _, to, reason, stack in sorted(events(path), key=lambda e: e[0]):
        prev, req = state.get(g), open_.get(g)
        if prev and req is not None:
            label = {'Waiting': prev[2], 'Runnable': 'runnable: waiting for a CPU',
                     'Running': 'running'}.get(prev[1], prev[1])
            req['time'][label] += (t - prev[0]) / 1e6
        if to == 'Waiting':
            if conn_read(stack):
                if req is not None:
                    req['end'] = t
                    done.append(open_.pop(g))
                state[g] = (t, to, 'connread')
                continue
            if req is not None and req['kind'] == '?':
                req['kind'] = next((k for fr in stack for key, k in KINDS if key in fr), '?')
            state[g] = (t, to, where(reason or 'blocked', stack))
            continue
        if prev and prev[2] == 'connread' and g not in open_:
            open_[g] = {'kind': '?', 'start': t, 'time': collections.defaultdict(float)}
        state[g] = (t, to, prev[2] if prev else '')
    if want:
        done = [r for r in done if r['kind'] == want]
    if not done:
        sys.exit('no requests found')
    lat = sorted((r['end'] - r['start']) / 1e6 for r in done)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"{len(lat)} requests{' of kind ' + want if want else ''}: p50 {q(.5):.3f} p90 {q(.9):.3f} "
          f"p99 {q(.99):.3f} max {lat[-1]:.3f} ms (in the server)")
    for title, sel in (('all', done), (f'slower than {slow} ms', [r for r in done if (r['end'] - r['start']) / 1e6 > slow])):
        total = collections.defaultdict(float)
        for r in sel:
            for k, v in r['time'].items():
                total[k] += v
        print(f"\n{title}: {len(sel)} requests, mean ms per request")
        for k, v in sorted(total.items(), key=lambda kv: -kv[1])[:12]:
            if v / max(1, len(sel)) >= 0.001:
                print(f"  {v / max(1, len(sel)):8.3f}  {k}")


if __name__ == '__main__':
    main()

# docker-py scenarios, the way its users write them. Run with Debian's
# python3-docker: `/usr/bin/python3 scenarios.py <scenario>` with DOCKER_HOST
# set; exits 0 when every check passed, prints what failed otherwise.
# Everything a scenario creates carries the label tsd.clients=<run id> and is
# removed at the end, even when a check failed.
import io
import os
import sys
import tarfile
import threading
import time

import docker
from docker.errors import APIError, NotFound

IMAGE = 'busybox:fixture'
RUN = os.environ.get('TSD_CLIENTS_RUN', str(os.getpid()))
LABELS = {'tsd.clients': RUN}
client = docker.from_env(timeout=120)
failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        failures.append(what)


def name(base):
    return 'tsdpy-%s-%s' % (base, RUN)


def cleanup():
    for c in client.containers.list(all=True, filters={'label': 'tsd.clients=' + RUN}):
        try:
            c.remove(force=True, v=True)
        except NotFound:
            pass
    for n in client.networks.list(filters={'label': 'tsd.clients=' + RUN}):
        try:
            n.remove()
        except NotFound:
            pass
    for v in client.volumes.list(filters={'label': 'tsd.clients=' + RUN}):
        try:
            v.remove(force=True)
        except NotFound:
            pass


def run_logs():
    out = client.containers.run(IMAGE, ['sh', '-c', 'echo to-out; echo to-err >&2'], labels=LABELS, stderr=True, remove=True)
    check(b'to-out\n' in out and b'to-err\n' in out, 'containers.run returns stdout and stderr')
    try:
        client.containers.run(IMAGE, ['sh', '-c', 'echo bad >&2; exit 3'], labels=LABELS, remove=True)
        check(False, 'a failing run raises ContainerError')
    except docker.errors.ContainerError as e:
        check(e.exit_status == 3 and b'bad' in (e.stderr or b''), 'ContainerError with exit status and stderr')
    c = client.containers.run(IMAGE, ['sh', '-c', 'for i in 1 2 3; do echo line$i; done; sleep 0.3; echo oops >&2'], labels=LABELS, detach=True)
    r = c.wait(timeout=60)
    check(r['StatusCode'] == 0, 'wait returns StatusCode 0')
    check(c.logs(stdout=True, stderr=False) == b'line1\nline2\nline3\n', 'logs stdout only')
    check(c.logs(stdout=False, stderr=True) == b'oops\n', 'logs stderr only')
    check(c.logs(tail=1) == b'oops\n', 'logs tail=1')
    check(c.logs(tail='all').count(b'\n') == 4, 'logs tail=all')
    check(c.logs(timestamps=True).split(b' ', 1)[0].endswith(b'Z'), 'logs with timestamps')
    f = client.containers.run(IMAGE, ['sh', '-c', 'for i in 1 2 3; do echo tick$i; sleep 0.3; done'], labels=LABELS, detach=True)
    got = b''.join(f.logs(stream=True, follow=True))
    check(got == b'tick1\ntick2\ntick3\n', 'logs stream+follow until exit: %r' % got)
    c.reload()
    check(c.status == 'exited' and c.attrs['State']['ExitCode'] == 0, 'reload sees exited')
    t = client.containers.run(IMAGE, ['sh', '-c', 'echo in-a-tty'], labels=LABELS, tty=True, detach=True)
    t.wait(timeout=60)
    check(t.logs() == b'in-a-tty\r\n', 'tty logs are raw: %r' % t.logs())


def exec_():
    c = client.containers.run(IMAGE, ['sleep', '300'], labels=LABELS, detach=True)
    r = c.exec_run(['sh', '-c', 'echo o; echo e >&2; exit 4'], demux=True)
    check(r.exit_code == 4, 'exec_run exit code')
    check(r.output == (b'o\n', b'e\n'), 'exec_run demux: %r' % (r.output,))
    r = c.exec_run(['sh', '-c', 'echo both; echo err >&2'])
    check(r.output == b'both\nerr\n', 'exec_run mixed output: %r' % r.output)
    r = c.exec_run(['sh', '-c', 'tty; echo x'], tty=True)
    check(r.exit_code == 0 and b'/dev/pts/' in r.output and r.output.endswith(b'x\r\n'), 'exec_run tty: %r' % r.output)
    # the low-level API: a tty exec started with Tty false (docker-py's default) is multiplexed
    api = client.api
    e = api.exec_create(c.id, ['sh', '-c', 'echo framed; exit 1'], tty=True)
    out = api.exec_start(e['Id'], demux=True)
    check(out[0] is not None and out[0].replace(b'\r', b'') == b'framed\n', 'tty exec started with Tty false comes in stdout frames: %r' % (out,))
    check(api.exec_inspect(e['Id'])['ExitCode'] == 1, 'its exit code is 1')
    # case-insensitive field: docker-py sends "detachKeys"
    e = api.exec_create(c.id, ['true'], detach_keys='ctrl-a')
    check(api.exec_inspect(e['Id'])['DetachKeys'] == 'AQ==', 'detachKeys (lower-case d) is read (moby shows the key bytes base64)')
    # stream and socket
    e = api.exec_create(c.id, ['sh', '-c', 'echo s1; echo s2'])
    chunks = b''.join(api.exec_start(e['Id'], stream=True))
    check(chunks == b's1\ns2\n', 'exec stream: %r' % chunks)
    e = api.exec_create(c.id, ['sh', '-c', 'read x; echo got-$x'], stdin=True)
    sock = api.exec_start(e['Id'], socket=True)
    raw = sock._sock
    raw.sendall(b'ping\n')
    data = b''
    deadline = time.time() + 20
    while time.time() < deadline and b'got-ping' not in data:
        b = raw.recv(4096)
        if not b:
            break
        data += b
    raw.close()
    check(data.startswith(b'\x01\x00\x00\x00') and b'got-ping\n' in data, 'exec socket with stdin, framed: %r' % data)
    api.exec_create(c.id, ['true'])
    c.remove(force=True)


def images():
    path = os.environ['TSD_BUSYBOX_TAR']
    with open(path, 'rb') as f:
        loaded = client.images.load(f.read())
    check(any('busybox:fixture' in i.tags for i in loaded), 'images.load returns the image')
    img = client.images.get(IMAGE)
    tag = 'tsdpy/retag:' + RUN
    check(img.tag('tsdpy/retag', RUN), 'tag')
    check(tag in client.images.get(tag).tags, 'the new tag resolves')
    hist = img.history()
    check(len(hist) >= 1 and 'CreatedBy' in hist[0] and 'Size' in hist[0], 'history')
    blob = b''.join(client.images.get(tag).save(named=True))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
        names = tf.getnames()
    check('manifest.json' in names, 'save gives a docker archive')
    check(any(i.id == img.id for i in client.images.list(name='busybox')), 'list by name')
    client.images.remove(tag)
    try:
        client.images.get(tag)
        check(False, 'removed tag is gone')
    except docker.errors.ImageNotFound:
        check(True, 'removed tag is gone (ImageNotFound)')


def networks():
    n = client.networks.create(name('net'), driver='bridge', labels=LABELS)
    check(n.attrs['Labels'].get('tsd.clients') == RUN, 'network labels')
    srv = client.containers.run(IMAGE, ['sh', '-c', 'mkdir -p /w && echo hi > /w/index.html && exec httpd -f -p 80 -h /w'],
                                labels=LABELS, detach=True, network=n.name, name=name('srv'))
    srv.reload()
    nets = srv.attrs['NetworkSettings']['Networks']
    check(n.name in nets and nets[n.name]['IPAddress'], 'containers.run(network=) attaches: %r' % list(nets))
    other = client.containers.create(IMAGE, ['sleep', '300'], labels=LABELS, name=name('cli'))
    n.connect(other, aliases=['client-alias'])
    other.reload()
    check(n.name in other.attrs['NetworkSettings']['Networks'], 'created container lists the connected network')
    other.start()
    other.reload()
    check(other.attrs['NetworkSettings']['Networks'][n.name]['IPAddress'] != '', 'it has an address after start')
    r = other.exec_run(['wget', '-q', '-O-', 'http://%s/' % name('srv')])
    check(r.output == b'hi\n', 'reached the server by name: %r' % r.output)
    n.reload()
    check(len(n.containers) == 2, 'network lists two containers')
    n.disconnect(other)
    n.reload()
    check(len(n.containers) == 1, 'disconnect')
    check(any(x.id == n.id for x in client.networks.list(names=[n.name])), 'list by name')
    srv.remove(force=True)
    other.remove(force=True)
    n.remove()
    check(not client.networks.list(names=[n.name]), 'removed')


def volumes():
    v = client.volumes.create(name('vol'), labels=LABELS)
    check(v.attrs['Labels'] == LABELS, 'volume labels')
    out = client.containers.run(IMAGE, ['sh', '-c', 'echo persisted > /v/f'], labels=LABELS, volumes={v.name: {'bind': '/v', 'mode': 'rw'}}, remove=True)
    out = client.containers.run(IMAGE, ['cat', '/v/f'], labels=LABELS, volumes={v.name: {'bind': '/v', 'mode': 'ro'}}, remove=True)
    check(out == b'persisted\n', 'data persists across containers')
    check([x.name for x in client.volumes.list(filters={'label': 'tsd.clients=' + RUN})] == [v.name], 'list by label')
    v.remove()
    try:
        client.volumes.get(v.name)
        check(False, 'removed volume is gone')
    except NotFound:
        check(True, 'removed volume is gone')


def events():
    since = int(time.time()) - 1
    seen = []
    gen = client.events(decode=True, filters={'type': 'container', 'label': 'tsd.clients=' + RUN})

    def reader():
        for ev in gen:
            seen.append(ev)
            if ev.get('Action') == 'destroy':
                return
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    time.sleep(0.5)
    client.containers.run(IMAGE, ['sh', '-c', 'exit 2'], labels=LABELS, detach=True, auto_remove=True).wait(timeout=60)
    th.join(30)
    gen.close()
    actions = [e['Action'] for e in seen]
    for a in ['create', 'start', 'die', 'destroy']:
        check(a in actions, 'event %s seen (%r)' % (a, actions))
    die = [e for e in seen if e['Action'] == 'die']
    check(bool(die) and die[0]['Actor']['Attributes'].get('exitCode') == '2', 'die carries exitCode')
    past = list(client.events(decode=True, since=since, until=int(time.time()) + 1, filters={'label': 'tsd.clients=' + RUN, 'event': 'create'}))
    check(len(past) >= 1 and all(e['Action'] == 'create' for e in past), 'since/until replay with an event filter')


def stats():
    c = client.containers.run(IMAGE, ['sh', '-c', 'while true; do :; done'], labels=LABELS, detach=True)
    s = c.stats(stream=False)
    check(s['cpu_stats']['cpu_usage']['total_usage'] > 0, 'one stats sample with cpu usage')
    check('usage' in s['memory_stats'] and s['precpu_stats'] is not None, 'memory usage and precpu stats')
    gen = c.stats(stream=True, decode=True)
    a = next(gen)
    b = next(gen)
    check(b['cpu_stats']['cpu_usage']['total_usage'] >= a['cpu_stats']['cpu_usage']['total_usage'], 'a stream of samples')
    gen.close()
    c.remove(force=True)


def archive():
    c = client.containers.create(IMAGE, ['sleep', '300'], labels=LABELS)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tf:
        data = b'from docker-py\n'
        info = tarfile.TarInfo('hello.txt')
        info.size = len(data)
        info.mode = 0o640
        tf.addfile(info, io.BytesIO(data))
    check(c.put_archive('/tmp', buf.getvalue()), 'put_archive before start')
    c.start()
    check(c.exec_run(['cat', '/tmp/hello.txt']).output == b'from docker-py\n', 'the file is there')
    stream, stat = c.get_archive('/tmp/hello.txt')
    check(stat['name'] == 'hello.txt' and stat['size'] == 15, 'get_archive stat: %r' % stat)
    with tarfile.open(fileobj=io.BytesIO(b''.join(stream))) as tf:
        m = tf.getmember('hello.txt')
        check(tf.extractfile(m).read() == b'from docker-py\n' and m.mode & 0o777 == 0o640, 'get_archive content and mode')
    try:
        c.get_archive('/no/such/file')
        check(False, 'missing path raises NotFound')
    except NotFound:
        check(True, 'missing path raises NotFound')
    c.remove(force=True)


def swarm():
    try:
        client.nodes.list()
        check(False, 'nodes.list fails on a non-swarm engine')
    except APIError as e:
        check(e.status_code == 503 and 'not a swarm manager' in str(e), 'nodes.list: 503 not a swarm manager')
    try:
        client.swarm.leave()
        check(False, 'swarm.leave fails')
    except APIError as e:
        check(e.status_code == 503 and 'not part of a swarm' in str(e), 'swarm.leave: 503 not part of a swarm')
    check(client.info()['Swarm']['LocalNodeState'] == 'inactive', 'info says inactive')


SCENARIOS = {'run_logs': run_logs, 'exec': exec_, 'images': images, 'networks': networks, 'volumes': volumes,
             'events': events, 'stats': stats, 'archive': archive, 'swarm': swarm}

if __name__ == '__main__':
    which = sys.argv[1]
    try:
        SCENARIOS[which]()
    except Exception as e:  # a crash is a failure with its traceback
        import traceback
        traceback.print_exc()
        failures.append('%s raised %r' % (which, e))
    finally:
        cleanup()
    print('%d failed' % len(failures))
    sys.exit(1 if failures else 0)

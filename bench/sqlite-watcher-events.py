# Counts inotify events on a folder (as FileSystemWatcher's inotify watch on Linux sees them: every event in the
# watched folder reaches its reader thread, which then filters by name) during N session-like WAL commits.
import ctypes, os, struct, sqlite3, sys, tempfile, threading, time, select
libc = ctypes.CDLL("libc.so.6", use_errno=True)
IN_MODIFY, IN_CREATE, IN_MOVED_TO, IN_ATTRIB = 0x2, 0x100, 0x80, 0x4
# .NET's FileSystemWatcher with NotifyFilters.LastWrite|Size|FileName asks for IN_MODIFY, IN_CREATE, IN_MOVED_FROM/TO, IN_DELETE
mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | 0x40 | 0x200
def count(folder, work):
    fd = libc.inotify_init1(os.O_NONBLOCK)
    wd = libc.inotify_add_watch(fd, folder.encode(), mask)
    events = {}
    stop = threading.Event()
    def reader():
        while not stop.is_set() or select.select([fd], [], [], 0.2)[0]:
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r: continue
            try: buf = os.read(fd, 65536)
            except BlockingIOError: continue
            i = 0
            while i < len(buf):
                _, m, _, ln = struct.unpack_from("iIII", buf, i)
                name = buf[i+16:i+16+ln].rstrip(b"\0").decode()
                events[name] = events.get(name, 0) + 1
                i += 16 + ln
    t = threading.Thread(target=reader); t.start()
    work()
    time.sleep(0.5); stop.set(); t.join()
    os.close(fd)
    return events
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
root = tempfile.mkdtemp(prefix="bouncer-inotify-", dir="/tmp")
db = os.path.join(root, "bouncer.db")
os.makedirs(os.path.join(root, "signal"))
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE s (id BLOB PRIMARY KEY, user_id TEXT, data TEXT, expires INTEGER)")
def writes():
    for i in range(n):
        c.execute("INSERT INTO s VALUES (?, ?, ?, ?)", (os.urandom(32), "u%d" % (i % 100), '{"n":%d}' % i, i))
for label, folder in (("database folder (watched today)", root), ("own signal subfolder", os.path.join(root, "signal"))):
    ev = count(folder, writes)
    print(f"{label}: {sum(ev.values())} inotify events for {n} commits: {ev}")

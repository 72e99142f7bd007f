"""A TCP proxy for benchmarks that counts the bytes it forwards each way.

Usage: count-proxy.py LISTEN_PORT UPSTREAM_PORT COUNTER_FILE
The counter file holds "<bytes up> <bytes down>", rewritten every 50 ms.
"""
import socket, sys, threading, time
listen_port, upstream_port, counter_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
up = [0]; down = [0]; lock = threading.Lock()
def pump(src, dst, counter):
    try:
        while True:
            data = src.recv(1 << 20)
            if not data: break
            dst.sendall(data)
            with lock: counter[0] += len(data)
    except OSError: pass
    for s in (src, dst):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def writer():
    while True:
        with lock: text = f"{up[0]} {down[0]}\n"
        with open(counter_file + ".tmp", "w") as f: f.write(text)
        import os; os.replace(counter_file + ".tmp", counter_file)
        time.sleep(0.05)
threading.Thread(target=writer, daemon=True).start()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port)); srv.listen(64)
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=pump, args=(c, u, up), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, down), daemon=True).start()

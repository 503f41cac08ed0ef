// stackmigrate's compiled Ceph helper (src/storage/compiled_helper.rs), one
// executable with two jobs of a warm-sync round:
//
//   rbd_helper read  ARGS   the delta reader (delta_reader.hpp): the job, arguments
//                           and stream of assets/rbd_delta_reader.py's `go` and
//                           `lock` lines; `hold` is the Python reader's alone
//   rbd_helper write ARGS   the round writer (round_writer.hpp): the job,
//                           arguments and stream of assets/rbd_stage_readback.py
//                           with the `bytes` reply; `checksum` is the Python one's
//   rbd_helper --probe      exit 0 where it can run (see main)
//
// How the reader differs: where librbd reports an object created since FROM
// from its start to its last write, librbd (and so the Python reader) fills
// the object's holes with zeros, which are then read, copied and compared.
// Here each changed piece of such an image is read from its RADOS object with
// `sparse_read` (C++ librados only: neither the C API nor the Python binding
// has it), which returns the object's allocated extents and their bytes: a
// hole is sent as zeros without being read. Objects are read directly only for
// a format-2 image with no parent and default striping (a piece then lies in
// one object, `<block_name_prefix>.<object number, 16 hex digits>`, in the
// image's data pool and namespace); anything else is read through librbd.
// The writer does what the Python one does, without an interpreter: each
// record's write, its read-back once acknowledged, and the bytes sent on.
//
// Both send, byte for byte, the streams the Python helpers send (tested).
// Exit 0 only after the whole job; else an errno (2: not found, 32: broken
// pipe, 110: timed out) or 3, with the reason on stderr.
#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include "delta_reader.hpp"
#include "round_writer.hpp"

#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <list>
#include <string>
#include <thread>

namespace {

const int LOCK_TRIES = 50;

std::string live_holder(librbd::Image& img) {
  std::list<librbd::locker_t> lockers;
  bool exclusive = false;
  std::string tag;
  int r = img.list_lockers(&lockers, &exclusive, &tag);
  if (r < 0) throw rados_error(r, "list lockers");
  if (lockers.empty()) return "";
  std::list<librbd::image_watcher_t> watchers;
  r = img.list_watchers(watchers);
  if (r < 0) throw rados_error(r, "list watchers");
  for (auto& l : lockers)
    for (auto& w : watchers)
      if (w.addr == l.address) return l.client + " at " + l.address;
  return "";
}

// As the Python reader's take_lock: a live holder is not asked to hand it over.
void take_lock(librbd::Image& img, const std::string& image, const char* from) {
  for (int attempt = 0; attempt < LOCK_TRIES; attempt++) {
    check_stop();
    std::string holder = live_holder(img);
    if (holder.empty()) {
      int r = img.lock_acquire(RBD_LOCK_MODE_EXCLUSIVE);
      if (r == 0) return;
      if (r != -EROFS && r != -EBUSY) throw rados_error(r, "lock " + image);
      holder = std::string("a client that refuses it (") + strerror(-r) + ")";
    }
    if (attempt + 1 == LOCK_TRIES) {
      std::string again = from ? "cut over again" : "migrate it again (a server's volume: let it be warm-synced)";
      throw Failed{3, "cannot take " + image + "'s exclusive lock: " + holder +
                          " holds it and has the image open, so something may still write to the source (or a "
                          "client killed less than 30 s ago: its watch then expires); stop it (rbd status shows "
                          "who has the image open), then " +
                          again};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The reader's line. Stdin is waited on in steps of 100 ms, so that a stop
// that comes before the line (even just before a read) is seen at once.
std::string read_line() {
  std::string line;
  char c;
  for (;;) {
    check_stop();
    struct pollfd line_in = {0, POLLIN, 0};
    if (poll(&line_in, 1, 100) <= 0) continue;  // nothing yet, or a signal
    ssize_t n = ::read(0, &c, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return line;
    line.push_back(c);
    if (c == '\n') return line;
  }
}

// argv: conf id keyring|- timeout_s pool, then the job's own.
void connect(librados::Rados& cluster, librados::IoCtx& io, char** argv, bool writes) {
  std::string conf = argv[1], id = argv[2], keyring = argv[3], timeout = argv[4], pool = argv[5];
  int r = cluster.init(id.c_str());
  if (r < 0) throw rados_error(r, "init");
  r = cluster.conf_read_file(conf.c_str());
  if (r < 0) throw rados_error(r, "reading " + conf);
  if (keyring != "-") cluster.conf_set("keyring", keyring.c_str());
  cluster.conf_set("client_mount_timeout", timeout.c_str());
  cluster.conf_set("rados_mon_op_timeout", timeout.c_str());
  // A write completes only once the OSDs hold it, as with the Python writer.
  if (writes) cluster.conf_set("rbd_cache", "false");
  r = cluster.connect();
  if (r < 0) throw rados_error(r, "connecting");
  r = cluster.ioctx_create(pool.c_str(), io);
  if (r < 0) throw rados_error(r, "pool " + pool);
}

// argv: conf id keyring|- timeout_s pool image from|- to block window_bytes
int read_job(int argc, char** argv) {
  if (argc != 11) throw Failed{3, "usage: read conf id keyring|- timeout_s pool image from|- to block window_bytes"};
  std::string image = argv[6];
  const char* from = std::string(argv[7]) == "-" ? nullptr : argv[7];
  std::string to = argv[8];
  uint64_t block = std::stoull(argv[9]), window = std::stoull(argv[10]);
  if (block == 0) throw Failed{3, "block must not be 0"};
  librados::Rados cluster;
  librados::IoCtx io;
  connect(cluster, io, argv, false);
  std::string line = read_line();
  librbd::RBD rbd;
  librbd::Image img;
  int r;
  if (line == "go\n") {
    r = rbd.open_read_only(io, img, image.c_str(), to.c_str());
    if (r < 0) throw rados_error(r, image + "@" + to);
    uint64_t snap = 0;
    r = img.snap_get_id(to, &snap);
    if (r < 0) throw rados_error(r, image + "@" + to);
    Reader reader(cluster, io, img, snap, block, window);
    reader.send(from);
    fprintf(stderr, "%s@%s: %s\n", image.c_str(), to.c_str(), reader.said().c_str());
    reader.end();
  } else if (line == "lock\n") {
    r = rbd.open(io, img, image.c_str());
    if (r < 0) throw rados_error(r, image);
    take_lock(img, image, from);
    fprintf(stderr, "%s: exclusive lock taken\n", image.c_str());
    Reader reader(cluster, io, img, LIBRADOS_SNAP_HEAD, block, window);
    // The image itself: no write can land while the lock is held.
    reader.send(from);
    bool owner = false;
    r = img.is_exclusive_lock_owner(&owner);
    if (r < 0) throw rados_error(r, "lock owner of " + image);
    if (!owner) throw Failed{3, "lost " + image + "'s exclusive lock during the read; nothing is kept, try again"};
    fprintf(stderr, "%s read under its exclusive lock, held from before the read to its end; no snapshot taken; %s\n",
            image.c_str(), reader.said().c_str());
    reader.end();
    // Closing the image releases the lock.
  } else {
    throw Failed{3, "stopped before " + image + "@" + to + " was taken"};
  }
  img.close();
  return 0;
}

// argv: conf id keyring|- timeout_s pool image window_bytes drop_prefix|- base|- bytes
int write_job(int argc, char** argv) {
  if (argc != 11)
    throw Failed{3, "usage: write conf id keyring|- timeout_s pool image window_bytes drop_prefix|- base|- bytes"};
  std::string image = argv[6], drop = argv[8], base = argv[9];
  uint64_t window = std::stoull(argv[7]);
  if (std::string(argv[10]) != "bytes")
    throw Failed{3, "the compiled writer sends the bytes read back (the checksum reply is the Python writer's)"};
  librados::Rados cluster;
  librados::IoCtx io;
  connect(cluster, io, argv, true);
  librbd::RBD rbd;
  librbd::Image img;
  int r = rbd.open(io, img, image.c_str());
  if (r < 0) throw rados_error(r, image);
  In in;
  Writer writer(img, window);
  if (base != "-") writer.tell(facts(img, image, base));
  // Declared after the writer, so destroyed (joined) first: the image is
  // closed only once the removal and every write and read have ended.
  std::unique_ptr<Dropper> dropper;
  if (drop != "-") dropper = std::make_unique<Dropper>(img, drop);
  writer.apply(in, dropper.get(), image);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--probe") {
    // Linked with -z now, so a missing library or symbol fails before this;
    // the C++ API is only kept stable within a release, so the librados
    // found must be the one compiled against.
    // librbd's version moves with each release (librados's C++ ABI has its own
    // versioned namespace, which -z now checks).
    int major = 0, minor = 0, extra = 0;
    librados::Rados::version(&major, &minor, &extra);
    if (major != LIBRADOS_VER_MAJOR || minor != LIBRADOS_VER_MINOR) {
      fprintf(stderr, "compiled against librados %d.%d, found %d.%d\n", LIBRADOS_VER_MAJOR, LIBRADOS_VER_MINOR,
              major, minor);
      return 3;
    }
    librbd::RBD().version(&major, &minor, &extra);
    if (major != LIBRBD_VER_MAJOR || minor != LIBRBD_VER_MINOR) {
      fprintf(stderr, "compiled against librbd %d.%d, found %d.%d\n", LIBRBD_VER_MAJOR, LIBRBD_VER_MINOR, major,
              minor);
      return 3;
    }
    printf("ok\n");
    return 0;
  }
  struct sigaction term = {};
  term.sa_handler = on_term;  // no SA_RESTART: a blocked read returns EINTR
  sigaction(SIGTERM, &term, nullptr);
  signal(SIGPIPE, SIG_IGN);
  fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
  std::string job = argc > 1 ? argv[1] : "";
  const char* who = job == "write" ? "stackmigrate round writer" : "stackmigrate delta reader";
  try {
    if (job == "read") return read_job(argc - 1, argv + 1);
    if (job == "write") return write_job(argc - 1, argv + 1);
    throw Failed{3, "usage: rbd_helper read|write ARGS, or --probe"};
  } catch (const Failed& f) {
    fprintf(stderr, "%s: %s\n", who, f.message.c_str());
    return f.code;
  } catch (const std::exception& e) {
    fprintf(stderr, "%s: %s\n", who, e.what());
    return 3;
  }
}

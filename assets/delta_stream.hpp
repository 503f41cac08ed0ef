// The stream side of stackmigrate's compiled helpers (assets/rbd_delta_reader.cc):
// failures as exit codes, the stop flag, and the `rbd diff v1` records written
// to a non-blocking stdout. Included once, by the reader's one source file.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

const uint64_t RUN = 4 << 20;  // the longest `w` record sent, as in the Python reader

struct Failed {
  int code;  // the exit status: an errno, or 3
  std::string message;
};

Failed rados_error(int r, const std::string& what) {
  int e = r < 0 ? -r : r;
  return Failed{e > 0 && e < 256 ? e : 3, what + ": " + strerror(e)};
}

volatile sig_atomic_t stopped = 0;
void on_term(int) { stopped = 1; }

void check_stop() {
  if (stopped) throw Failed{3, "stopped by signal 15"};
}

void put_le64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; i++) s.push_back(char((v >> (8 * i)) & 0xff));
}

// Buffered stdout; coalesces pieces into `w` and `z` records in offset order.
class Out {
 public:
  ~Out() {}
  void raw(const char* p, size_t n) {
    buf_.append(p, n);
    if (buf_.size() >= (1 << 20)) drain();
  }
  // Stdout is non-blocking: a full pipe is waited on in steps of 100 ms, so
  // that a stop (SIGTERM) is seen while nobody reads, and the image is
  // closed (its lock released) on the way out.
  void drain() {
    size_t at = 0;
    while (at < buf_.size()) {
      check_stop();
      ssize_t n = ::write(1, buf_.data() + at, buf_.size() - at);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        struct pollfd room = {1, POLLOUT, 0};
        poll(&room, 1, 100);
        continue;
      }
      if (n < 0) throw Failed{errno == EPIPE ? 32 : 3, std::string("writing the stream: ") + strerror(errno)};
      at += size_t(n);
    }
    buf_.clear();
  }
  void zero(uint64_t offset, uint64_t n) {
    if (kind_ != 'z' || start_ + length_ != offset) {
      flush();
      kind_ = 'z';
      start_ = offset;
    }
    length_ += n;
    if (length_ >= RUN) flush();
  }
  void data(uint64_t offset, const char* p, uint64_t n) {
    if (kind_ != 'w' || start_ + length_ != offset || length_ + n > RUN) {
      flush();
      kind_ = 'w';
      start_ = offset;
    }
    run_.append(p, n);
    length_ += n;
    if (length_ >= RUN) flush();
  }
  void flush() {
    if (kind_ != 0 && length_ > 0) {
      std::string head(1, kind_);
      put_le64(head, start_);
      put_le64(head, length_);
      raw(head.data(), head.size());
      raw(run_.data(), run_.size());
    }
    kind_ = 0;
    length_ = 0;
    run_.clear();
  }

 private:
  std::string buf_, run_;
  char kind_ = 0;
  uint64_t start_ = 0, length_ = 0;
};

}  // namespace

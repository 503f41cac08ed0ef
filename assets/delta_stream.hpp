// The stream side of stackmigrate's compiled helper (assets/rbd_helper.cc):
// failures as exit codes, the stop flag, the `rbd diff v1` records written to
// a non-blocking stdout, and exact reads from stdin. Included once.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

// Exact reads from stdin, in large pieces; a stop (SIGTERM) is seen at EINTR.
class In {
 public:
  void exact(char* to, size_t n) {
    size_t got = 0;
    while (got < n) {
      if (at_ == end_) fill(n, got);
      size_t m = std::min(n - got, end_ - at_);
      memcpy(to + got, buf_.data() + at_, m);
      at_ += m;
      got += m;
    }
  }
  uint64_t le64() {
    char b[8];
    exact(b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | uint8_t(b[i]);
    return v;
  }

 private:
  void fill(size_t n, size_t got) {
    for (;;) {
      check_stop();
      ssize_t r = ::read(0, buf_.data(), buf_.size());
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Failed{3, std::string("reading the stream: ") + strerror(errno)};
      if (r == 0)
        throw Failed{3, "the stream ended early (" + std::to_string(got) + " of " + std::to_string(n) +
                            " bytes of a record)"};
      at_ = 0;
      end_ = size_t(r);
      return;
    }
  }
  std::vector<char> buf_ = std::vector<char>(1 << 20);
  size_t at_ = 0, end_ = 0;
};

}  // namespace

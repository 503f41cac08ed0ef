// The compiled round writer (`rbd_helper write`): assets/rbd_stage_readback.py's
// `bytes` reply, for a warm-sync round, with the same arguments and the same
// stream (read that file's header first). It applies an `rbd diff v1` stream
// from stdin to an existing image with the librbd cache off; as soon as a
// data record's write completes, its extent is read back, and what was read
// goes to stdout as an `rbd diff v1` stream, in input order. With a base
// snapshot it first answers the round's guard (a `g` record); with a prefix,
// the image's snapshots so named are removed from its first change on.
// The `checksum` reply (a cold export's stage) is the Python writer's alone.
// Included once, by assets/rbd_helper.cc.
#pragma once

#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "delta_stream.hpp"

namespace {

// A JSON string as Python's json.dumps writes it: ASCII only, short escapes,
// others as \uXXXX (UTF-16; a byte that is not UTF-8 as U+FFFD).
std::string json_string(const std::string& s) {
  std::string out = "\"";
  auto unit = [&out](unsigned v) {
    char u[16];
    snprintf(u, sizeof(u), "\\u%04x", v);
    out += u;
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    const char* brief = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : nullptr;
    if (brief) {
      out += brief;
      i++;
    } else if (c < 0x20) {
      unit(c);
      i++;
    } else if (c < 0x80) {
      out += char(c);
      i++;
    } else {
      int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
      unsigned v = n == 3 ? c & 0x07 : n == 2 ? c & 0x0f : c & 0x1f;
      bool ok = n > 0 && c < 0xf5 && i + n < s.size();
      for (int k = 1; ok && k <= n; k++) {
        unsigned char d = s[i + k];
        ok = (d & 0xc0) == 0x80;
        v = (v << 6) | (d & 0x3f);
      }
      if (!ok) {
        unit(0xfffd);
        i++;
        continue;
      }
      if (v >= 0x10000) {
        unit(0xd800 + ((v - 0x10000) >> 10));
        unit(0xdc00 + ((v - 0x10000) & 0x3ff));
      } else {
        unit(v);
      }
      i += n + 1;
    }
  }
  return out + "\"";
}

// The guard's facts about the image, as the Python writer's `tell` gives them.
std::string facts(librbd::Image& img, const std::string& image, const std::string& base) {
  uint64_t size = 0;
  std::vector<librbd::snap_info_t> snaps;
  int r = img.size(&size);
  if (r >= 0) r = img.snap_list(snaps);
  std::string names;
  bool has_base = false;
  for (size_t i = 0; r >= 0 && i < snaps.size(); i++) {
    librbd::snap_namespace_type_t kind;
    r = img.snap_get_namespace_type(snaps[i].id, &kind);
    if (r < 0 || kind != RBD_SNAP_NAMESPACE_TYPE_USER) continue;
    names += (names.empty() ? "" : ", ") + json_string(snaps[i].name);
    has_base = has_base || snaps[i].name == base;
  }
  std::vector<std::pair<uint64_t, uint64_t>> found;
  if (r >= 0 && has_base) {
    auto add = [](uint64_t off, size_t n, int, void* arg) {
      static_cast<std::vector<std::pair<uint64_t, uint64_t>>*>(arg)->emplace_back(off, n);
      return 0;
    };
    r = img.diff_iterate2(base.c_str(), 0, size, true, true, add, &found);
  }
  if (r < 0) return "{\"error\": " + json_string(image + ": " + strerror(-r)) + "}";
  std::sort(found.begin(), found.end());
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (auto& f : found) {
    if (!runs.empty() && runs.back().first + runs.back().second == f.first)
      runs.back().second += f.second;
    else
      runs.push_back(f);
  }
  std::string written = "null";
  if (has_base) {
    written = "[";
    for (size_t i = 0; i < runs.size(); i++)
      written += (i ? ", [" : "[") + std::to_string(runs[i].first) + ", " + std::to_string(runs[i].second) + "]";
    written += "]";
  }
  return "{\"size\": " + std::to_string(size) + ", \"snaps\": [" + names + "], \"written\": " + written + "}";
}

// Removes the image's snapshots whose names start with a prefix, beside the writes.
class Dropper {
 public:
  Dropper(librbd::Image& img, std::string prefix) : img_(img), prefix_(std::move(prefix)) {}
  ~Dropper() {
    if (thread_.joinable()) thread_.join();
  }
  bool started() const { return thread_.joinable(); }
  void start() {
    if (!started()) thread_ = std::thread([this] { run(); });
  }
  void finish() {
    thread_.join();
    if (!error_.empty()) throw Failed{3, error_};
  }

 private:
  void run() {
    std::vector<librbd::snap_info_t> snaps;
    int r = img_.snap_list(snaps);
    for (size_t i = 0; r >= 0 && i < snaps.size(); i++)
      if (snaps[i].name.compare(0, prefix_.size(), prefix_) == 0) r = img_.snap_remove(snaps[i].name.c_str());
    if (r < 0) error_ = "removing snapshots " + prefix_ + "*: " + strerror(-r);
  }
  librbd::Image& img_;
  std::string prefix_, error_;
  std::thread thread_;
};

// One record written, then read back once its write completed.
struct Written {
  uint64_t offset = 0, length = 0;
  ceph::bufferlist data, back;
  librbd::RBD::AioCompletion* write = nullptr;
  librbd::RBD::AioCompletion* read = nullptr;
  bool done = false;
  std::string error;
};

class Writer {
 public:
  Writer(librbd::Image& img, uint64_t window) : img_(img), window_(window) {}
  ~Writer() {
    // Never free a record whose write or read is still in flight (an error unwinds here).
    for (auto& w : pending_) {
      w->write->wait_for_complete();
      librbd::RBD::AioCompletion* read;
      {
        std::lock_guard<std::mutex> g(lock_);
        read = w->read;
      }
      if (read) read->wait_for_complete();
      w->write->release();
      if (read) read->release();
    }
  }

  // The guard's answer, first on stdout: a `g` record (u32 length, then JSON).
  void tell(const std::string& json) {
    std::string rec(1, 'g');
    for (int i = 0; i < 4; i++) rec.push_back(char((json.size() >> (8 * i)) & 0xff));
    out_.raw(rec.data(), rec.size());
    out_.raw(json.data(), json.size());
    out_.drain();
  }

  void apply(In& in, Dropper* dropper, const std::string& image) {
    char head[12];
    in.exact(head, 12);
    if (memcmp(head, "rbd diff v1\n", 12) != 0) throw Failed{3, "not an rbd diff v1 stream"};
    out_.raw(head, 12);
    for (;;) {
      char tag;
      in.exact(&tag, 1);
      if (tag == 'f' || tag == 't') {
        throw Failed{3, "a stream with snapshot records: the caller checks and takes snapshots itself"};
      } else if (tag == 's') {
        char size[8];
        in.exact(size, 8);
        out_.raw("s", 1);
        out_.raw(size, 8);
      } else if (tag == 'w') {
        if (dropper) dropper->start();
        uint64_t offset = in.le64(), length = in.le64();
        write(in, offset, length);
        drain(window_);
      } else if (tag == 'z') {
        if (dropper) dropper->start();
        uint64_t offset = in.le64(), length = in.le64();
        drain(0);
        zeros(offset, length);
      } else if (tag == 'e') {
        drain(0);
        // The end first: the round is verified by what was read back, and
        // the caller waits for the removal (this exit) only after that.
        out_.raw("e", 1);
        out_.drain();
        if (dropper && dropper->started()) {
          fprintf(stderr, "%s: every extent written and read back; waiting for the snapshot removal\n", image.c_str());
          dropper->finish();
        }
        return;
      } else {
        throw Failed{3, std::string("unknown record '") + tag + "' in the stream"};
      }
    }
  }

 private:
  static void written(librbd::completion_t, void* arg) {
    auto* self = static_cast<std::pair<Writer*, Written*>*>(arg);
    self->first->on_write(self->second);
    delete self;
  }
  static void read_back(librbd::completion_t, void* arg) {
    auto* self = static_cast<std::pair<Writer*, Written*>*>(arg);
    Writer* w = self->first;
    Written* e = self->second;
    delete self;
    std::lock_guard<std::mutex> g(w->lock_);
    ssize_t r = e->read->get_return_value();
    if (r < 0 || e->back.length() != e->length)
      e->error = "read back at " + std::to_string(e->offset) + ": " + std::to_string(r);
    e->done = true;
    w->cond_.notify_all();
  }

  // In librbd's completion thread. The lock is not held while the read is
  // asked: its completion may run at once, in this thread.
  void on_write(Written* e) {
    ssize_t r = e->write->get_return_value();
    librbd::RBD::AioCompletion* read = nullptr;
    {
      std::lock_guard<std::mutex> g(lock_);
      if (r < 0) {
        e->error = "write at " + std::to_string(e->offset) + ": " + std::to_string(r);
        e->done = true;
        cond_.notify_all();
        return;
      }
      read = e->read = new librbd::RBD::AioCompletion(new std::pair<Writer*, Written*>(this, e), read_back);
    }
    int q = img_.aio_read2(e->offset, e->length, e->back, read, 0);
    if (q < 0) {
      // Refused as it was asked: its completion will never run.
      std::lock_guard<std::mutex> g(lock_);
      e->read = nullptr;
      read->release();
      e->error = "read back at " + std::to_string(e->offset) + ": " + std::to_string(q);
      e->done = true;
      cond_.notify_all();
    }
  }

  void write(In& in, uint64_t offset, uint64_t length) {
    auto e = std::make_unique<Written>();
    e->offset = offset;
    e->length = length;
    ceph::bufferptr bytes = ceph::buffer::create(length);
    in.exact(bytes.c_str(), length);
    e->data.push_back(std::move(bytes));
    e->write = new librbd::RBD::AioCompletion(new std::pair<Writer*, Written*>(this, e.get()), written);
    Written* raw = e.get();
    {
      std::lock_guard<std::mutex> g(lock_);
      held_ += length;
      pending_.push_back(std::move(e));
    }
    int r = img_.aio_write2(offset, length, raw->data, raw->write, 0);
    if (r < 0) {
      // Refused as it was asked: its completion will never run.
      std::lock_guard<std::mutex> g(lock_);
      raw->write->release();
      held_ -= length;
      pending_.pop_back();
      throw Failed{3, "write at " + std::to_string(offset) + ": " + std::to_string(r)};
    }
  }

  // Zeros over data: written as zeros, then read back like any write, and
  // sent on as zeros or as what was read.
  void zeros(uint64_t offset, uint64_t length) {
    ssize_t r = img_.write_zeroes(offset, length, 0, 0);
    if (r < 0) throw rados_error(int(r), "zeroing at " + std::to_string(offset));
    for (uint64_t pos = offset; pos < offset + length;) {
      uint64_t n = std::min<uint64_t>(4 << 20, offset + length - pos);
      ceph::bufferlist bl;
      ssize_t got = img_.read(pos, n, bl);
      if (got < 0) throw rados_error(int(got), "read back at " + std::to_string(pos));
      if (uint64_t(got) != n || bl.length() != n)
        throw Failed{3, "read back at " + std::to_string(pos) + ": " + std::to_string(got) + " of " +
                            std::to_string(n) + " bytes"};
      const char* p = bl.c_str();
      bool zero = std::all_of(p, p + n, [](char c) { return c == 0; });
      std::string head(1, zero ? 'z' : 'w');
      put_le64(head, pos);
      put_le64(head, n);
      out_.raw(head.data(), head.size());
      if (!zero) out_.raw(p, n);
      pos += n;
    }
    out_.drain();
  }

  // Sends finished records on, in order, until at most `keep` bytes are pending.
  void drain(uint64_t keep) {
    for (;;) {
      Written* head;
      {
        std::unique_lock<std::mutex> g(lock_);
        if (pending_.empty()) return;
        head = pending_.front().get();
        while (!head->done && held_ > keep) {
          cond_.wait_for(g, std::chrono::milliseconds(100));
          check_stop();
        }
        if (!head->error.empty()) throw Failed{3, head->error};
        if (!head->done) return;
      }
      std::string rec(1, 'w');
      put_le64(rec, head->offset);
      put_le64(rec, head->length);
      out_.raw(rec.data(), rec.size());
      for (auto& b : head->back.buffers()) out_.raw(b.c_str(), b.length());
      // On at once, as the Python writer's stdout is: the read-back is compared as the round runs.
      out_.drain();
      // Complete means its callback has returned, too.
      head->write->wait_for_complete();
      if (head->read) head->read->wait_for_complete();
      head->write->release();
      if (head->read) head->read->release();
      std::lock_guard<std::mutex> g(lock_);
      held_ -= head->length;
      pending_.pop_front();
    }
  }

  librbd::Image& img_;
  uint64_t window_;
  std::mutex lock_;
  std::condition_variable cond_;
  std::deque<std::unique_ptr<Written>> pending_;
  uint64_t held_ = 0;
  Out out_;
};

}  // namespace

// The reading side of stackmigrate's compiled delta reader
// (assets/rbd_helper.cc, whose header says what it does): the changed
// extents of an image, read in order with a bounded window of reads in
// flight, by sparse object reads where the image allows, and sent on as the
// Python reader sends them. Included once, by the reader's one source file.
#pragma once

#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "delta_stream.hpp"

namespace {

const uint64_t CHUNK = 1 << 20;  // the largest read, as in the Python reader
const size_t LIST_THREADS = 8;  // the runs' diffs asked at once

// One read in flight (or a hole), emitted in offset order.
struct Piece {
  uint64_t offset = 0, length = 0;
  bool hole = false;
  uint64_t object_start = 0;  // image offset of the object (sparse reads)
  librados::AioCompletion* rados = nullptr;
  librbd::RBD::AioCompletion* rbd = nullptr;
  std::map<uint64_t, uint64_t> extents;
  ceph::bufferlist bl;
  ~Piece() {
    if (rados) rados->release();
    if (rbd) rbd->release();
  }
  int wait() {
    if (rados) {
      rados->wait_for_complete();
      return rados->get_return_value();
    }
    if (rbd) {
      rbd->wait_for_complete();
      return int(rbd->get_return_value());
    }
    return 0;
  }
};

class Reader {
 public:
  Reader(librados::Rados& cluster, librados::IoCtx& io, librbd::Image& img, uint64_t snap, uint64_t block,
         uint64_t window)
      : img_(img), snap_(snap), block_(block), window_(window), zeros_(std::max(block, CHUNK), 0) {
    direct_ = direct_objects(cluster, io);
  }
  ~Reader() {
    // Never free a piece whose read is still in flight (an error unwinds here).
    for (auto& p : pending_) p->wait();
  }

  void send(const char* from) {
    uint64_t size = 0;
    int r = img_.size(&size);
    if (r < 0) throw rados_error(r, "size");
    std::vector<Extent> extents = changes(from, size);
    out_.raw("rbd diff v1\n", 12);
    std::string s(1, 's');
    put_le64(s, size);
    out_.raw(s.data(), s.size());
    for (const Extent& e : extents) {
      check_stop();
      if (!e.exists) {
        auto p = std::make_unique<Piece>();
        p->offset = e.offset;
        p->length = e.length;
        p->hole = true;
        pending_.push_back(std::move(p));
        continue;
      }
      uint64_t pos = e.offset, end = e.offset + e.length;
      while (pos < end) {
        uint64_t m = std::min(CHUNK - pos % CHUNK, end - pos);
        if (direct_) m = std::min(m, object_size_ - pos % object_size_);
        submit(pos, m);
        pos += m;
        drain(window_);
      }
    }
    drain(0);
    out_.flush();
  }

  // How the pieces were read (said on stderr, and checked by the tests).
  std::string said() const {
    return std::to_string(direct_pieces_) + " pieces read from their RADOS objects (sparse), " +
           std::to_string(librbd_pieces_) + " through librbd";
  }

  void end() {
    out_.raw("e", 1);
    out_.drain();
  }

 private:
  struct Extent {
    uint64_t offset, length;
    bool exists;
  };

  static int collect(uint64_t off, size_t len, int exists, void* arg) {
    static_cast<std::vector<Extent>*>(arg)->push_back(Extent{off, uint64_t(len), exists != 0});
    return 0;
  }

  // As the Python reader's `changes`: with a valid fast-diff object map, the
  // objects that may have changed first, and only their runs asked (however
  // many: the Python reader asks the whole image past 64 runs, one object
  // after another, which is slower than these runs asked at once).
  std::vector<Extent> changes(const char* from, uint64_t size) {
    std::vector<Extent> out;
    uint64_t features = 0, flags = 0;
    int r = img_.features(&features);
    if (r < 0) throw rados_error(r, "features");
    r = img_.get_flags(&flags);
    if (r < 0) throw rados_error(r, "flags");
    bool usable = (features & RBD_FEATURE_FAST_DIFF) &&
                  !(flags & (RBD_FLAG_FAST_DIFF_INVALID | RBD_FLAG_OBJECT_MAP_INVALID));
    if (usable) {
      std::vector<Extent> objects;
      r = img_.diff_iterate2(from, 0, size, true, true, collect, &objects);
      if (r < 0) throw rados_error(r, "diff");
      std::sort(objects.begin(), objects.end(), [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
      std::vector<std::pair<uint64_t, uint64_t>> runs;
      for (const Extent& o : objects) {
        if (!runs.empty() && runs.back().first + runs.back().second == o.offset)
          runs.back().second += o.length;
        else
          runs.emplace_back(o.offset, o.length);
      }
      // Each run's own diff: only the objects that may have changed are
      // asked, one round trip each, so the runs are split among threads.
      size_t n = std::min(LIST_THREADS, runs.size());
      std::vector<std::vector<Extent>> parts(n);
      std::vector<int> failed(n, 0);
      std::vector<std::thread> threads;
      bool started = true;
      for (size_t t = 0; t < n && started; t++) {
        try {
          threads.emplace_back([&, t] {
            for (size_t i = t * runs.size() / n; i < (t + 1) * runs.size() / n && failed[t] >= 0; i++)
              failed[t] = img_.diff_iterate2(from, runs[i].first, runs[i].second, true, false, collect, &parts[t]);
          });
        } catch (const std::system_error&) {
          started = false;
        }
      }
      for (auto& t : threads) t.join();
      if (!started) throw Failed{3, "cannot start a thread to list the changes"};
      for (size_t t = 0; t < n; t++) {
        if (failed[t] < 0) throw rados_error(failed[t], "diff");
        out.insert(out.end(), parts[t].begin(), parts[t].end());
      }
      return out;
    }
    r = img_.diff_iterate2(from, 0, size, true, false, collect, &out);
    if (r < 0) throw rados_error(r, "diff");
    return out;
  }

  // Whether pieces may be read from their objects: see the header. Not an
  // image being live-migrated either: librbd serves the objects not yet
  // copied from the migration's source, which get_parent does not name.
  bool direct_objects(librados::Rados& cluster, librados::IoCtx& io) {
    uint8_t old = 1;
    if (img_.old_format(&old) < 0 || old) return false;
    uint64_t features = 0;
    if (img_.features(&features) < 0 || (features & RBD_FEATURE_MIGRATING)) return false;
    // Nor one with a librbd QoS limit (image, pool or cluster config): an
    // operator's limit on the old cluster is kept, and only librbd applies it.
    std::vector<librbd::config_option_t> options;
    if (img_.config_list(&options) < 0) return false;
    for (auto& o : options) {
      bool limit = o.name.rfind("rbd_qos_", 0) == 0 && o.name.size() > 14 &&
                   o.name.compare(o.name.size() - 6, 6, "_limit") == 0;
      if (limit && o.value != "0") return false;
    }
    librbd::linked_image_spec_t parent;
    librbd::snap_spec_t parent_snap;
    if (img_.get_parent(&parent, &parent_snap) != -ENOENT) return false;
    librbd::image_info_t info;
    // Objects of whole CHUNKs: the pieces are then the Python reader's, and so are the records.
    if (img_.stat(info, sizeof(info)) < 0 || info.obj_size == 0 || info.obj_size % CHUNK != 0) return false;
    if (img_.get_stripe_count() != 1 || img_.get_stripe_unit() != info.obj_size) return false;
    int64_t pool = img_.get_data_pool_id();
    if (pool < 0) return false;
    if (cluster.ioctx_create2(pool, data_) < 0) return false;
    data_.set_namespace(io.get_namespace());
    object_size_ = info.obj_size;
    prefix_ = img_.get_block_name_prefix();
    return !prefix_.empty();
  }

  void submit(uint64_t pos, uint64_t m) {
    auto p = std::make_unique<Piece>();
    p->offset = pos;
    p->length = m;
    int r;
    if (direct_) {
      uint64_t number = pos / object_size_;
      p->object_start = number * object_size_;
      char name[32];
      snprintf(name, sizeof(name), ".%016llx", (unsigned long long)number);
      p->rados = librados::Rados::aio_create_completion();
      r = data_.aio_sparse_read(prefix_ + name, p->rados, &p->extents, &p->bl, m, pos - p->object_start, snap_);
      direct_pieces_++;
    } else {
      p->rbd = new librbd::RBD::AioCompletion(nullptr, nullptr);
      r = img_.aio_read2(pos, m, p->bl, p->rbd, 0);
      librbd_pieces_++;
    }
    if (r < 0) throw rados_error(r, "read at " + std::to_string(pos));
    held_ += m;
    pending_.push_back(std::move(p));
  }

  // Sends finished pieces on, in order, until at most `keep` bytes are in flight.
  void drain(uint64_t keep) {
    while (!pending_.empty()) {
      Piece& head = *pending_.front();
      if (!head.hole && held_ <= keep) return;
      int r = head.wait();
      if (head.rados && r == -ENOENT) {
        // No object, though the listing says this extent changed: not taken
        // for zeros, but read through librbd, as the Python reader reads it.
        head.extents.clear();
        head.bl.clear();
        head.rados->release();
        head.rados = nullptr;
        ssize_t n = img_.read(head.offset, head.length, head.bl);
        r = n < 0 ? int(n) : 0;
        direct_pieces_--;
        librbd_pieces_++;
      }
      if (r < 0) throw Failed{3, "read at " + std::to_string(head.offset) + ": " + strerror(-r)};
      emit(head);
      if (!head.hole) held_ -= head.length;
      pending_.pop_front();
    }
  }

  struct Span {
    uint64_t at, n;
    const char* p;
  };

  bool is_zero(const char* p, uint64_t n) const {
    for (uint64_t at = 0; at < n; at += zeros_.size())
      if (memcmp(p + at, zeros_.data(), std::min<uint64_t>(zeros_.size(), n - at)) != 0) return false;
    return true;
  }

  // As the Python reader's `emit`, so that both send the same records: a
  // piece that reads as zeros is one `z`; otherwise each `block` piece on
  // absolute offsets that holds only zeros is a `z`, and the data pieces
  // between them go on as one run. A sparse read's holes read as zeros.
  void emit(Piece& p) {
    if (p.hole) {
      out_.zero(p.offset, p.length);
      return;
    }
    std::vector<Span> spans;
    const char* data = p.bl.length() ? p.bl.c_str() : nullptr;
    if (!p.rados) {
      if (p.bl.length() != p.length) throw Failed{3, "read at " + std::to_string(p.offset) + ": short read"};
      spans.push_back(Span{p.offset, p.length, data});
    } else {
      uint64_t pos = p.offset, used = 0;
      for (auto& [object_offset, n] : p.extents) {
        uint64_t at = p.object_start + object_offset;
        if (n == 0) continue;
        if (at < pos || at + n > p.offset + p.length || used + n > p.bl.length())
          throw Failed{3, "sparse read at " + std::to_string(p.offset) + ": an extent outside the piece asked"};
        spans.push_back(Span{at, n, data + used});
        used += n;
        pos = at + n;
      }
      if (used != p.bl.length())
        throw Failed{3, "sparse read at " + std::to_string(p.offset) + ": extents and bytes disagree"};
    }
    if (std::all_of(spans.begin(), spans.end(), [&](const Span& s) { return is_zero(s.p, s.n); })) {
      out_.zero(p.offset, p.length);
      return;
    }
    uint64_t pos = p.offset, end = p.offset + p.length, run_start = 0;
    bool in_run = false;
    size_t first = 0;
    run_.clear();
    while (pos < end) {
      uint64_t m = std::min(block_ - pos % block_, end - pos);
      while (first < spans.size() && spans[first].at + spans[first].n <= pos) first++;
      bool zero = true;
      for (size_t j = first; zero && j < spans.size() && spans[j].at < pos + m; j++) {
        uint64_t a = std::max(spans[j].at, pos), b = std::min(spans[j].at + spans[j].n, pos + m);
        zero = is_zero(spans[j].p + (a - spans[j].at), b - a);
      }
      if (zero) {
        if (in_run) out_.data(run_start, run_.data(), run_.size());
        in_run = false;
        run_.clear();
        out_.zero(pos, m);
      } else {
        if (!in_run) run_start = pos;
        in_run = true;
        size_t base = run_.size();
        run_.resize(base + m, 0);
        for (size_t j = first; j < spans.size() && spans[j].at < pos + m; j++) {
          uint64_t a = std::max(spans[j].at, pos), b = std::min(spans[j].at + spans[j].n, pos + m);
          memcpy(&run_[base + (a - pos)], spans[j].p + (a - spans[j].at), b - a);
        }
      }
      pos += m;
    }
    if (in_run) out_.data(run_start, run_.data(), run_.size());
  }

  librbd::Image& img_;
  uint64_t snap_, block_, window_;
  std::vector<char> zeros_;
  bool direct_ = false;
  librados::IoCtx data_;
  uint64_t object_size_ = 0;
  std::string prefix_;
  std::deque<std::unique_ptr<Piece>> pending_;
  uint64_t held_ = 0, direct_pieces_ = 0, librbd_pieces_ = 0;
  std::vector<char> run_;
  Out out_;
};

}  // namespace

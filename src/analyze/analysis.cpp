#include "analyze/analysis.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>

namespace synscope::analyze {

std::string AnalysisResult::display(const IpAddress& a) const { return namer ? namer(a) : a.str(); }

AnalysisResult analyze_source(PacketSource& source, const AnalysisOptions& options) {
  AnalysisResult r;
  r.input = source.name();
  r.format = source.format();
  // tcpdump text may print host names: keep its map (a copy) so the result outlives the source.
  AddressNamer namer = [](const IpAddress& a) { return a.str(); };
  if (const auto* names = source.host_names(); names && !names->empty()) {
    auto copy = std::make_shared<const std::map<IpAddress, std::string>>(*names);
    namer = [copy](const IpAddress& a) {
      auto it = copy->find(a);
      return it != copy->end() ? it->second : a.str();
    };
  }
  std::uint64_t sample_every = 1, seen_connects = 0;
  auto sink = [&](Attempt& a) {
    const bool failed = is_failure(a.outcome);
    // Evidence sentences only for attempts someone will read (kept for the report, or streamed);
    // the rest are counted by their top cause, which does not depend on the sentences.
    const bool shown = options.on_attempt || ((failed || a.delayed() || options.keep_all) && r.kept.size() < options.max_kept);
    diagnose(a, namer, shown ? Evidence::Full : Evidence::None);
    ++r.outcomes[static_cast<std::size_t>(a.outcome)];
    if (a.synack && a.synack->cookie) ++r.cookies;
    if (failed) ++r.failed;
    if (a.delayed()) ++r.delayed;
    if (a.syn_count > 1 && a.kept_syns() > 1) ++r.schedules[static_cast<std::size_t>(a.schedule)];
    if (!a.causes.empty()) {
      CauseCount& cc = r.causes[static_cast<std::size_t>(a.causes.front().kind)];
      ++cc.attempts;
      for (const SynSend* s = a.syns_begin(); s < a.syns_end(); ++s) cc.syns_lost += s->answered ? 0 : 1;
    }
    if (auto t = a.time_to_established()) {
      // Bounded sample for percentiles: keep every k-th, doubling k when full.
      if (seen_connects++ % sample_every == 0) {
        r.connect_times.push_back(to_seconds(*t));
        if (r.connect_times.size() >= 200000) {
          std::vector<double> half;
          for (std::size_t i = 0; i < r.connect_times.size(); i += 2) half.push_back(r.connect_times[i]);
          r.connect_times.swap(half);
          sample_every *= 2;
        }
      }
    }
    if (options.on_attempt) options.on_attempt(a);
    if (failed || a.delayed() || options.keep_all) {
      if (r.kept.size() < options.max_kept) r.kept.push_back(std::move(a));  // the tracker is done with it
      else ++r.not_kept;
    }
  };
  AttemptTracker tracker(options.tracker, sink);
  // Read a few packets ahead of the tracker and let it prefetch their flows: the flow table is
  // larger than the caches, and one miss per packet would otherwise dominate the run time.
  constexpr std::size_t kAhead = 16, kFlowStage = 8;
  std::array<capture::CaptureItem, kAhead> ring;
  std::array<std::uint64_t, kAhead> keys{};
  std::size_t read = 0, done = 0;
  std::uint64_t n = 0;
  bool more = true;
  for (;;) {
    if (more && read - done < kAhead) {
      if ((more = source.next(ring[read % kAhead]))) {
        keys[read % kAhead] = AttemptTracker::flow_key(ring[read % kAhead]);
        tracker.prefetch(ring[read % kAhead], keys[read % kAhead], false);
        if (read - done >= kFlowStage) {
          const std::size_t k = (read - kFlowStage) % kAhead;
          tracker.prefetch(ring[k], keys[k], true);
        }
        ++read;
        continue;
      }
    }
    if (done == read) break;
    tracker.add(ring[done % kAhead], keys[done % kAhead]);
    ++done;
    if (options.on_progress && (++n & 0xffff) == 0) options.on_progress(source.frames());
  }
  tracker.finish();
  r.frames = source.frames();
  r.stop_reason = source.stop_reason();
  if (const auto* cs = source.capture_stats()) {
    r.capture_stats = *cs;
    r.frames = cs->frames;
  }
  if (const auto* ts = source.text_stats()) {
    r.text_stats = *ts;
    r.frames = ts->lines;
  }
  r.tracker = tracker.stats();
  r.clocks = tracker.clock_findings();
  // By id, moving each (large) attempt once rather than at every step of the sort.
  std::vector<std::uint32_t> order(r.kept.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) { return r.kept[x].id < r.kept[y].id; });
  std::vector<Attempt> sorted;
  sorted.reserve(r.kept.size());
  for (std::uint32_t i : order) sorted.push_back(std::move(r.kept[i]));
  r.kept.swap(sorted);
  r.namer = namer;
  return r;
}

}  // namespace synscope::analyze

namespace synscope::analyze {
AnalysisResult analyze_file(const std::string& path, const AnalysisOptions& options) {
  PacketSource source = PacketSource::open(path);
  return analyze_source(source, options);
}
}  // namespace synscope::analyze

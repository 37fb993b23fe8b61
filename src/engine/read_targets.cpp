#include "engine/read_targets.hpp"

#include <algorithm>

#include "engine/channel.hpp"
#include "engine/channel_budget.hpp"
#include "shared/engine_state.hpp"
#include "shared/prefetch.hpp"

namespace tofu::detail {

ReadTargets::ReadTargets(EngineState& engine)
    : engine_{engine},
      // At most an eighth of the pool: the rest stays within reach of a sender's `wait_get`.
      kept_{std::min<std::size_t>(max_read_batch, engine.options().max_pool_msgs / 8)} {}

std::size_t ReadTargets::take(const Connection& ch, std::size_t limit) {
    // What the reads leave unused goes back with the turn's spares.
    const std::size_t fits = ch.in.average_frame == 0 ? 1 : limit / ch.in.average_frame + 1;
    // One more while no message is kept back for a `pool_empty` report: a pool that runs dry is
    // then reported without allocating.
    const std::size_t targets = std::min(fits, max_read_batch) + (report_spare_ ? 0 : 1);
    if (spares_.size() < targets) {
        engine_.pool().take_idle(spares_, targets - spares_.size());
    }
    if (!report_spare_ && spares_.size() > 1) {
        report_spare_ = spares_.pop_front();
    }
    return spares_.size();
}

MessagePtr ReadTargets::next() {
    if (MessagePtr m = spares_.pop_front()) {
        if (const Message* following = spares_.front(); following != nullptr) {
            prefetch_message_and_body(following, following->body.data().data());  // the next read target
        }
        return m;  // the decoder resets it
    }
    return engine_.pool().get_for_read();  // null when dry: the refill hook is then armed
}

void ReadTargets::recycle(MessagePtr msg) {
    // Written: a spare for the reads, then back to the pool in a batch (return_spares).
    if (engine_.pool().owns(*msg)) {
        spares_.push_back(std::move(msg));
    }
}

void ReadTargets::return_spares(std::size_t keep) {
    if (spares_.size() > keep) {
        MessageQueue excess = spares_.take_front(spares_.size() - keep);  // the coldest
        engine_.pool().take_back_all(excess);
    }
}

void ReadTargets::keep_report_spare() {
    if (!report_spare_) {
        report_spare_ = spares_.pop_front();
    }
}

MessagePtr ReadTargets::pool_empty_report(std::uint16_t channel) {
    MessagePtr report = std::move(report_spare_);
    if (!report) {
        return engine_.engine_message(OpCode::signal, AmpeStatus::pool_empty, channel);
    }
    report->reset();
    EngineState::stamp_engine_message(*report, OpCode::signal, AmpeStatus::pool_empty, channel);
    return report;
}

}  // namespace tofu::detail

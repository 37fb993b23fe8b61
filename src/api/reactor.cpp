// `Reactor`: the public face of an engine. It owns the engine's lifetime; groups share its core.
#include <tofu/ampe.hpp>

#include "api/engine_core.hpp"

namespace tofu {
namespace {

class ReactorImpl final : public Reactor {
public:
    explicit ReactorImpl(const Options& options) : core_{std::make_shared<detail::EngineCore>(options)} {
        core_->start();
    }
    ~ReactorImpl() override { core_->stop(); }
    ReactorImpl(const ReactorImpl&) = delete;
    ReactorImpl& operator=(const ReactorImpl&) = delete;
    ReactorImpl(ReactorImpl&&) = delete;
    ReactorImpl& operator=(ReactorImpl&&) = delete;

    MessagePtr get(AllocationStrategy strategy) override { return core_->pool().get(strategy); }
    MessagePtr wait_get(std::chrono::nanoseconds timeout) override { return core_->pool().wait_get(timeout); }
    void put(MessagePtr&& msg) noexcept override { core_->pool().put(std::move(msg)); }
    ChannelGroupPtr create() override { return core_->create_group(); }
    void destroy(ChannelGroupPtr&& group) noexcept override { group.reset(); }
    EngineMemory memory() override { return core_->memory(); }

private:
    std::shared_ptr<detail::EngineCore> core_;
};

}  // namespace

std::unique_ptr<Reactor> Reactor::create(const Options& options) {
    return std::make_unique<ReactorImpl>(options);
}

}  // namespace tofu

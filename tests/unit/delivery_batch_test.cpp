// Unit tests of a group's turn of deliveries (src/shared/delivery_batch.hpp): the messages keep
// their order, and each points at the one `prefetch_distance` places behind it, or at none.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include <tofu/message.hpp>

#include "message/message_access.hpp"
#include "shared/delivery_batch.hpp"
#include "shared/message_queue.hpp"

namespace {

using tofu::Message;
using tofu::MessagePtr;
using tofu::detail::DeliveryBatch;
using tofu::detail::MessageAccess;
using tofu::detail::MessageQueue;
using tofu::detail::prefetch_distance;

/// Adds `n` messages numbered `first`.. to `batch`.
void add(DeliveryBatch& batch, std::uint64_t first, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        MessagePtr m = Message::create();
        m->bhdr.message_id = first + i;
        batch.push_back(std::move(m));
    }
}

/// The messages of `queue`, in order (still owned by the queue).
std::vector<Message*> in_order(const MessageQueue& queue) {
    std::vector<Message*> all;
    for (Message* m = queue.front(); m != nullptr; m = MessageQueue::next_of(m)) {
        all.push_back(m);
    }
    return all;
}

TEST(DeliveryBatch, KeepsTheOrderAndPointsEachAtTheOneBehindIt) {
    for (const std::size_t n :
         {std::size_t{0}, std::size_t{1}, prefetch_distance, prefetch_distance + 1, std::size_t{50}}) {
        DeliveryBatch batch;
        add(batch, 1, n);
        const MessageQueue taken = batch.take();
        const std::vector<Message*> all = in_order(taken);
        ASSERT_EQ(all.size(), n);
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_EQ(all[i]->bhdr.message_id, i + 1);
            Message* const expected = i + prefetch_distance < n ? all[i + prefetch_distance] : nullptr;
            EXPECT_EQ(MessageAccess::ahead(*all[i]), expected) << "message " << i << " of " << n;
        }
    }
}

TEST(DeliveryBatch, StartsAnewAfterTake) {
    DeliveryBatch batch;
    add(batch, 1, 3);
    const MessageQueue first = batch.take();
    add(batch, 10, 3);  // fewer than the distance: none may point back into the first batch
    const MessageQueue second = batch.take();
    for (const MessageQueue* queue : {&first, &second}) {
        for (Message* m : in_order(*queue)) {
            EXPECT_EQ(MessageAccess::ahead(*m), nullptr) << "message " << m->bhdr.message_id;
        }
    }
    EXPECT_EQ(second.front()->bhdr.message_id, 10U);
    EXPECT_EQ(second.size(), 3U);
}

TEST(DeliveryBatch, ResetClearsALinkLeftBehind) {
    DeliveryBatch batch;
    add(batch, 1, prefetch_distance + 1);
    MessageQueue taken = batch.take();
    MessagePtr first = taken.pop_front();
    ASSERT_NE(MessageAccess::ahead(*first), nullptr);
    first->reset();
    EXPECT_EQ(MessageAccess::ahead(*first), nullptr);
}

}  // namespace

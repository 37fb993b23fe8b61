// Sorting what wait_receive returns (tofu/received.hpp): one case per kind of message the engine
// delivers, and the close reason.
#include <gtest/gtest.h>

#include <optional>

#include <tofu/tofu.hpp>

namespace tofu {
namespace {

MessagePtr make(OpCode op, Origin origin, AmpeStatus status) {
    MessagePtr msg = Message::create();
    msg->bhdr.proto.op_code = op;
    msg->bhdr.proto.origin = origin;
    msg->bhdr.status = status;
    msg->bhdr.channel_number = 3;
    return msg;
}

TEST(Classify, WhatThePeerSent) {
    for (const OpCode op : {OpCode::request, OpCode::response, OpCode::signal, OpCode::hello_request,
                            OpCode::hello_response, OpCode::bye_request, OpCode::bye_response}) {
        EXPECT_EQ(classify(*make(op, Origin::application, AmpeStatus::success)), Received::from_peer)
            << op_code_name(op);
    }
    // A peer's status other than receiver_update is its own business: still from the peer.
    EXPECT_EQ(classify(*make(OpCode::signal, Origin::application, AmpeStatus::channel_closed)),
              Received::from_peer);
}

TEST(Classify, ReportsAboutAChannel) {
    for (const AmpeStatus status :
         {AmpeStatus::channel_closed, AmpeStatus::pool_empty, AmpeStatus::accept_failed}) {
        EXPECT_EQ(classify(*make(OpCode::signal, Origin::engine, status)), Received::report)
            << status_name(status);
    }
    for (const AmpeStatus status :
         {AmpeStatus::success, AmpeStatus::listen_failed, AmpeStatus::invalid_address}) {
        EXPECT_EQ(classify(*make(OpCode::welcome_response, Origin::engine, status)), Received::report)
            << status_name(status);
    }
}

TEST(Classify, MessagesThatCameBack) {
    EXPECT_EQ(classify(*make(OpCode::hello_request, Origin::engine, AmpeStatus::connect_failed)),
              Received::returned);
    EXPECT_EQ(classify(*make(OpCode::request, Origin::engine, AmpeStatus::peer_disconnected)),
              Received::returned);
    EXPECT_EQ(classify(*make(OpCode::signal, Origin::engine, AmpeStatus::shutdown_started)),
              Received::returned);
    EXPECT_EQ(classify(*make(OpCode::response, Origin::engine, AmpeStatus::invalid_channel_number)),
              Received::returned);
    MessagePtr unconfirmed = make(OpCode::request, Origin::engine, AmpeStatus::communication_failed);
    unconfirmed->thdrs.append(header::unconfirmed, "1");
    EXPECT_EQ(classify(*unconfirmed), Received::returned);
}

TEST(Classify, WakeUpsWhateverTheirOrigin) {
    EXPECT_EQ(classify(*make(OpCode::signal, Origin::engine, AmpeStatus::receiver_update)),
              Received::wake_up);
    EXPECT_EQ(classify(*make(OpCode::request, Origin::application, AmpeStatus::receiver_update)),
              Received::wake_up);
    EXPECT_EQ(received_name(Received::wake_up), "wake_up");
}

TEST(Classify, CloseReason) {
    MessagePtr closed = make(OpCode::signal, Origin::engine, AmpeStatus::channel_closed);
    EXPECT_EQ(close_reason(*closed), std::nullopt) << "no ~reason";
    closed->thdrs.append(header::reason, "peer_disconnected");
    EXPECT_EQ(close_reason(*closed), AmpeStatus::peer_disconnected);
    const MessagePtr from_peer = make(OpCode::signal, Origin::application, AmpeStatus::channel_closed);
    from_peer->thdrs.append(header::reason, "success");
    EXPECT_EQ(close_reason(*from_peer), std::nullopt) << "a peer cannot report a close";
}

}  // namespace
}  // namespace tofu

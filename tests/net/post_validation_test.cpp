// The synchronous checks of `ChannelGroup::post` (channel_group.hpp, DESIGN.md section 3, "post()
// validation"): a refused message throws `tofu::Error` with the status, stays with the caller and
// carries the same status; an accepted one is assigned what is missing and forced to origin
// application, status 0. Every refusal is also checked through the non-throwing
// `post(msg, error_code&)`: the same status in the error code, the message left the same way.
//
// The fixture opens a real connection (one engine, a server group and a client group) so the
// checks run against channels that are really open.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/status.hpp>

#include "support/engine_helpers.hpp"

namespace tofu::test {
namespace {

class PostValidation : public ::testing::Test {
protected:
    void SetUp() override {
        engine_ = Reactor::create(Options{});
        server_ = engine_->create();
        client_ = engine_->create();
        other_ = engine_->create();
        listener_ = start_listener(*engine_, *server_, Transport::tcp4);
        connection_ = establish(*engine_, *client_, *server_, listener_.client_address);
    }

    /// A channel number open nowhere in the engine.
    [[nodiscard]] std::uint16_t unused_channel() const {
        std::uint16_t candidate = 40000;
        while (candidate == listener_.channel || candidate == connection_.client ||
               candidate == connection_.server) {
            ++candidate;
        }
        return candidate;
    }

    /// Posts `msg` on `group` and expects a refusal with `status`, the message left with the caller
    /// with its status set: first without exceptions, then with.
    static void expect_refused(ChannelGroup& group, MessagePtr& msg, AmpeStatus status) {
        const std::string before = msg ? describe(*msg) : std::string{"null"};
        std::error_code ec = make_error_code(AmpeStatus::unknown_error);
        (void)group.post(msg, ec);
        EXPECT_EQ(ec, make_error_code(status)) << before << ": " << ec.message();
        EXPECT_EQ(&ec.category(), &ampe_category()) << before;
        if (status != AmpeStatus::null_message) {
            ASSERT_NE(msg, nullptr) << "a refused message must stay with the caller (no throw): " << before;
            EXPECT_EQ(msg->bhdr.status, status) << describe(*msg);
            msg->bhdr.status = AmpeStatus::success;  // so the status below is the throwing post's
        }
        try {
            const BinaryHeader posted = group.post(msg);
            ADD_FAILURE() << "post accepted " << before << " (assigned channel " << posted.channel_number
                          << ", id " << posted.message_id << "), expected " << status_name(status);
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), status) << before << ": " << e.what();
            EXPECT_EQ(e.code(), make_error_code(status)) << before;
            if (status == AmpeStatus::null_message) {
                EXPECT_EQ(msg, nullptr);
            } else {
                ASSERT_NE(msg, nullptr) << "a refused message must stay with the caller: " << before;
                EXPECT_EQ(msg->bhdr.status, status)
                    << "the refused message's status byte: " << describe(*msg);
            }
        }
    }

    std::unique_ptr<Reactor> engine_;
    ChannelGroupPtr server_;
    ChannelGroupPtr client_;
    ChannelGroupPtr other_;
    Listener listener_;
    Connection connection_;
};

TEST_F(PostValidation, NullMessageIsRefused) {
    MessagePtr nothing;
    expect_refused(*client_, nothing, AmpeStatus::null_message);
}

TEST_F(PostValidation, RequestOnTheUnassignedChannelIsRefused) {
    for (const OpCode op : {OpCode::request, OpCode::response, OpCode::signal, OpCode::bye_request,
                            OpCode::bye_signal, OpCode::hello_response}) {
        SCOPED_TRACE(std::string{op_code_name(op)});
        MessagePtr msg = make_message(*engine_, op, unassigned_channel, 5, "x");
        expect_refused(*client_, msg, AmpeStatus::invalid_channel_number);
    }
}

TEST_F(PostValidation, ChannelNeverOpenedIsRefused) {
    for (const std::uint16_t channel : {unused_channel(), max_channel, internal_channel}) {
        SCOPED_TRACE("channel " + std::to_string(channel));
        if (channel == listener_.channel || channel == connection_.client || channel == connection_.server) {
            continue;  // the engine happened to hand out this number; not "never opened"
        }
        MessagePtr msg = make_message(*engine_, OpCode::request, channel, 0, "to nowhere");
        expect_refused(*client_, msg, AmpeStatus::invalid_channel_number);
    }
}

TEST_F(PostValidation, ChannelOpenInAnotherGroupIsRefused) {
    // The client's channel through the server group, the server's through the client group, and
    // the listener through a third group: each is open, but not in the group posting.
    MessagePtr a = make_message(*engine_, OpCode::request, connection_.client, 0, "wrong group");
    expect_refused(*server_, a, AmpeStatus::invalid_channel_number);
    MessagePtr b = make_message(*engine_, OpCode::signal, connection_.server, 0, "wrong group");
    expect_refused(*client_, b, AmpeStatus::invalid_channel_number);
    MessagePtr c = make_message(*engine_, OpCode::bye_signal, listener_.channel);
    expect_refused(*other_, c, AmpeStatus::invalid_channel_number);

    // The refused message is intact and usable: on the right group it goes through.
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->body.text(), "wrong group");
    const BinaryHeader posted = client_->post(a);
    EXPECT_EQ(a, nullptr) << "an accepted message must leave the caller";
    MessagePtr got = wait_for_op(*server_, OpCode::request, connection_.server);
    EXPECT_EQ(got->bhdr.message_id, posted.message_id);
    EXPECT_EQ(got->body.text(), "wrong group");
    EXPECT_EQ(got->bhdr.status, AmpeStatus::success) << "the refusal status must not travel";
}

TEST_F(PostValidation, UndefinedOpCodesAreRefused) {
    for (std::uint8_t raw = max_op_code + 1; raw <= 15; ++raw) {
        SCOPED_TRACE("op code " + std::to_string(raw));
        MessagePtr msg = make_message(*engine_, static_cast<OpCode>(raw), connection_.client, 1, "x");
        expect_refused(*client_, msg, AmpeStatus::invalid_op_code);
    }
}

TEST_F(PostValidation, WelcomeResponseIsOnlyTheEnginesToSend) {
    MessagePtr on_channel = make_message(*engine_, OpCode::welcome_response, connection_.client, 1);
    expect_refused(*client_, on_channel, AmpeStatus::invalid_op_code);

    MessagePtr like_a_listen = make_message(*engine_, OpCode::welcome_response, unassigned_channel, 1);
    like_a_listen->thdrs.append(header::listen_on, "tcp|127.0.0.1|0");
    expect_refused(*server_, like_a_listen, AmpeStatus::invalid_op_code);
}

TEST_F(PostValidation, ResponseWithMessageIdZeroIsRefused) {
    for (const OpCode op : {OpCode::response, OpCode::bye_response}) {
        SCOPED_TRACE(std::string{op_code_name(op)});
        MessagePtr msg = make_message(*engine_, op, connection_.client, 0);
        expect_refused(*client_, msg, AmpeStatus::invalid_message_id);
    }
}

TEST_F(PostValidation, MoreOnANonRegularTypeIsRefused) {
    MessagePtr hello = hello_message(*engine_, listener_.client_address);
    hello->bhdr.proto.more = true;
    expect_refused(*client_, hello, AmpeStatus::invalid_more_usage);

    MessagePtr welcome = engine_->get(AllocationStrategy::always);
    format(*welcome, TcpServerAddress{"127.0.0.1", 0});
    welcome->bhdr.proto.more = true;
    expect_refused(*server_, welcome, AmpeStatus::invalid_more_usage);

    for (const OpCode op : {OpCode::bye_request, OpCode::bye_signal, OpCode::hello_response}) {
        SCOPED_TRACE(std::string{op_code_name(op)});
        MessagePtr msg = make_message(*engine_, op, connection_.client, 3);
        msg->bhdr.proto.more = true;
        expect_refused(*client_, msg, AmpeStatus::invalid_more_usage);
    }
}

TEST_F(PostValidation, MoreOnRegularTypesIsAccepted) {
    // The positive control of the test above: a two-part Request, Response and Signal go through.
    for (const OpCode op : {OpCode::request, OpCode::response, OpCode::signal}) {
        SCOPED_TRACE(std::string{op_code_name(op)});
        MessagePtr first = make_message(*engine_, op, connection_.client, 777, "part 1");
        first->bhdr.proto.more = true;
        MessagePtr last = make_message(*engine_, op, connection_.client, 777, "part 2");
        (void)client_->post(first);
        (void)client_->post(last);
        MessagePtr got1 = wait_for_op(*server_, op, connection_.server);
        MessagePtr got2 = wait_for_op(*server_, op, connection_.server);
        EXPECT_TRUE(got1->has_more());
        EXPECT_EQ(got1->body.text(), "part 1");
        EXPECT_FALSE(got2->has_more());
        EXPECT_EQ(got2->body.text(), "part 2");
        EXPECT_EQ(got1->bhdr.message_id, 777U);
        EXPECT_EQ(got2->bhdr.message_id, 777U);
    }
}

TEST_F(PostValidation, HelloAndWelcomeWithoutAddressAreRefused) {
    MessagePtr hello = make_message(*engine_, OpCode::hello_request, unassigned_channel);
    hello->thdrs.append("x-not-an-address", "tcp|127.0.0.1|1");
    expect_refused(*client_, hello, AmpeStatus::invalid_address);

    MessagePtr welcome = make_message(*engine_, OpCode::welcome_request, unassigned_channel);
    expect_refused(*server_, welcome, AmpeStatus::invalid_address);
}

TEST_F(PostValidation, TlsHeadersWithAValueTheyDoNotTakeAreRefused) {
    // Refused at once, in every build (with TLS or without), not after the engine took them.
    const std::vector<std::pair<std::string_view, std::string_view> > bad{
        {header::tls_verify, "yes"},
        {header::tls_verify, ""},
        {header::tls_min_version, "1.1"},
        {header::tls_min_version, "TLSv1.3"}};
    for (const auto& [name, value] : bad) {
        MessagePtr hello = make_message(*engine_, OpCode::hello_request, unassigned_channel);
        TlsClientAddress{"127.0.0.1", 1}.format(*hello);
        hello->thdrs.append(name, value);
        expect_refused(*client_, hello, AmpeStatus::not_allowed);

        MessagePtr welcome = make_message(*engine_, OpCode::welcome_request, unassigned_channel);
        TlsServerAddress{"127.0.0.1", 0}.format(*welcome);
        welcome->thdrs.append(name, value);
        expect_refused(*server_, welcome, AmpeStatus::not_allowed);
    }
    MessagePtr hello = make_message(*engine_, OpCode::hello_request, unassigned_channel);
    TlsClientAddress{"127.0.0.1", 1}.format(*hello);
    hello->thdrs.append(header::tls_min_version, "0.9");
    try {
        (void)client_->post(hello);
        ADD_FAILURE() << "a ~tls_min_version of 0.9 was taken";
    } catch (const Error& e) {
        EXPECT_NE(std::string{e.what()}.find("~tls_min_version"), std::string::npos) << e.what();
    }
}

TEST_F(PostValidation, MessageAfterOwnByeRequestIsNotAllowed) {
    // The server app does not answer the ByeRequest, so the channel stays open: the only thing
    // wrong with the Request is that it comes after this side's ByeRequest.
    MessagePtr bye = make_message(*engine_, OpCode::bye_request, connection_.client);
    (void)client_->post(bye);
    MessagePtr late = make_message(*engine_, OpCode::request, connection_.client, 0, "after bye");
    expect_refused(*client_, late, AmpeStatus::not_allowed);
    MessagePtr late_signal = make_message(*engine_, OpCode::signal, connection_.client, 0, "after bye");
    expect_refused(*client_, late_signal, AmpeStatus::not_allowed);
}

TEST_F(PostValidation, MessageAfterOwnByeResponseIsRefused) {
    MessagePtr bye = make_message(*engine_, OpCode::bye_request, connection_.client);
    (void)client_->post(bye);
    MessagePtr request = wait_for_op(*server_, OpCode::bye_request, connection_.server);
    make_answer(*request);
    (void)server_->post(request);

    // Right after its own ByeResponse the channel is either still closing (not_allowed) or already
    // closed (not open in this group any more: invalid_channel_number). Both refuse at once.
    MessagePtr late = make_message(*engine_, OpCode::signal, connection_.server, 0, "after bye response");
    const std::string before = describe(*late);
    try {
        (void)server_->post(late);
        ADD_FAILURE() << "post accepted " << before << " after this side's ByeResponse";
    } catch (const Error& e) {
        EXPECT_TRUE(e.status() == AmpeStatus::not_allowed || e.status() == AmpeStatus::invalid_channel_number)
            << e.what();
        ASSERT_NE(late, nullptr);
        EXPECT_EQ(late->bhdr.status, e.status());
    }
}

TEST_F(PostValidation, MessageAfterTheChannelClosedIsRefusedOrComesBack) {
    close_gracefully(*engine_, *client_, connection_.client, *server_, connection_.server);
    MessagePtr late = make_message(*engine_, OpCode::request, connection_.client, 31337, "too late");
    try {
        (void)client_->post(late);
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), AmpeStatus::invalid_channel_number) << e.what();
        ASSERT_NE(late, nullptr);
        EXPECT_EQ(late->bhdr.status, AmpeStatus::invalid_channel_number);
        return;
    }
    // Accepted: then it reaches the engine after its channel closed and must come back.
    MessagePtr back = wait_for(
        *client_, [](const Message& m) { return m.bhdr.message_id == 31337; },
        "the late Request coming back");
    EXPECT_TRUE(back->is_from_engine()) << describe(*back);
    EXPECT_EQ(back->bhdr.status, AmpeStatus::invalid_channel_number) << describe(*back);
    EXPECT_EQ(back->body.text(), "too late");
}

TEST_F(PostValidation, PostForcesOriginAndStatusAndAssignsIds) {
    MessagePtr msg = make_message(*engine_, OpCode::request, connection_.client, 0, "forced");
    msg->bhdr.proto.origin = Origin::engine;
    msg->bhdr.status = AmpeStatus::pool_empty;
    const BinaryHeader first = client_->post(msg);
    EXPECT_EQ(msg, nullptr);
    EXPECT_EQ(first.channel_number, connection_.client);
    EXPECT_EQ(first.proto.op_code, OpCode::request);
    EXPECT_EQ(first.proto.origin, Origin::application);
    EXPECT_EQ(first.status, AmpeStatus::success);
    EXPECT_NE(first.message_id, 0U) << "message id 0 must be replaced";

    MessagePtr second_msg = make_message(*engine_, OpCode::signal, connection_.client);
    const BinaryHeader second = client_->post(second_msg);
    EXPECT_GT(second.message_id, first.message_id) << "ids come from one increasing counter";

    MessagePtr explicit_id = make_message(*engine_, OpCode::request, connection_.client,
                                          std::numeric_limits<std::uint64_t>::max());
    const BinaryHeader third = client_->post(explicit_id);
    EXPECT_EQ(third.message_id, std::numeric_limits<std::uint64_t>::max()) << "a given id must be kept";

    MessagePtr got = wait_for_op(*server_, OpCode::request, connection_.server);
    EXPECT_EQ(got->bhdr.message_id, first.message_id);
    EXPECT_FALSE(got->is_from_engine()) << describe(*got);
    EXPECT_EQ(got->bhdr.status, AmpeStatus::success) << describe(*got);
    EXPECT_EQ(got->body.text(), "forced");
    MessagePtr got_signal = wait_for_op(*server_, OpCode::signal, connection_.server);
    EXPECT_EQ(got_signal->bhdr.message_id, second.message_id);
    MessagePtr got_max = wait_for_op(*server_, OpCode::request, connection_.server);
    EXPECT_EQ(got_max->bhdr.message_id, std::numeric_limits<std::uint64_t>::max());
}

TEST_F(PostValidation, PostWithoutExceptionsClearsTheErrorCodeOnSuccess) {
    MessagePtr msg = make_message(*engine_, OpCode::request, connection_.client, 0, "no throw");
    std::error_code ec = make_error_code(AmpeStatus::invalid_channel_number);  // left from before
    const BinaryHeader posted = client_->post(msg, ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(msg, nullptr) << "an accepted message must leave the caller";
    EXPECT_EQ(posted.channel_number, connection_.client);
    EXPECT_NE(posted.message_id, 0U);
    MessagePtr got = wait_for_op(*server_, OpCode::request, connection_.server);
    EXPECT_EQ(got->bhdr.message_id, posted.message_id);
    EXPECT_EQ(got->body.text(), "no throw");

    MessagePtr hello = hello_message(*engine_, listener_.client_address);
    const BinaryHeader opened = client_->post(hello, ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_NE(opened.channel_number, unassigned_channel) << "a HelloRequest gets its channel";
}

TEST(PostWithoutExceptions, TheEnginesChannelLimitAndItsShutdownAreErrorCodes) {
    Options options;
    options.max_channels = 1;
    auto engine = Reactor::create(options);
    ChannelGroupPtr group = engine->create();
    MessagePtr first = engine->get(AllocationStrategy::always);
    format(*first, TcpServerAddress{"127.0.0.1", 0});
    std::error_code ec;
    (void)group->post(first, ec);
    ASSERT_FALSE(ec) << ec.message();

    // The one channel is taken: the second listener is refused at once.
    MessagePtr second = engine->get(AllocationStrategy::always);
    format(*second, TcpServerAddress{"127.0.0.1", 0});
    (void)group->post(second, ec);
    EXPECT_EQ(ec, make_error_code(AmpeStatus::allocation_failed)) << ec.message();
    EXPECT_TRUE(ec == AmpeStatus::allocation_failed) << "compares with the status itself";
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(second->bhdr.status, AmpeStatus::allocation_failed);

    engine.reset();  // the group outlives its engine
    (void)group->post(second, ec);
    EXPECT_EQ(ec, make_error_code(AmpeStatus::shutdown_started)) << ec.message();
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(second->bhdr.status, AmpeStatus::shutdown_started);
}

TEST_F(PostValidation, HelloAndWelcomeGetFreshChannelNumbers) {
    std::vector<std::uint16_t> seen{listener_.channel, connection_.client, connection_.server};
    for (int i = 0; i < 4; ++i) {
        MessagePtr welcome = engine_->get(AllocationStrategy::always);
        format(*welcome, TcpServerAddress{"127.0.0.1", 0});
        const BinaryHeader posted = server_->post(welcome);
        EXPECT_NE(posted.channel_number, unassigned_channel);
        EXPECT_LE(posted.channel_number, max_channel);
        EXPECT_EQ(std::count(seen.begin(), seen.end(), posted.channel_number), 0)
            << "channel " << posted.channel_number << " handed out twice while open";
        EXPECT_EQ(posted.proto.op_code, OpCode::welcome_request);
        seen.push_back(posted.channel_number);
    }
    MessagePtr hello = hello_message(*engine_, listener_.client_address);
    const BinaryHeader posted = client_->post(hello);
    EXPECT_NE(posted.channel_number, unassigned_channel);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), posted.channel_number), 0);
}

}  // namespace
}  // namespace tofu::test

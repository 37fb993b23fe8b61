#include <gtest/gtest.h>

#include <tofu/tofu.hpp>

namespace tofu {
namespace {

TEST(Status, NumberingIsFixed) {
    EXPECT_EQ(to_raw(AmpeStatus::success), 0);
    EXPECT_EQ(to_raw(AmpeStatus::wrong_address), 2);
    EXPECT_EQ(to_raw(AmpeStatus::invalid_address), 13);
    EXPECT_EQ(to_raw(AmpeStatus::pool_empty), 19);
    EXPECT_EQ(to_raw(AmpeStatus::receiver_update), 21);
    EXPECT_EQ(to_raw(AmpeStatus::channel_closed), 22);
    EXPECT_EQ(to_raw(AmpeStatus::connect_failed), 24);
    EXPECT_EQ(to_raw(AmpeStatus::processing_failed), 30);
    EXPECT_EQ(to_raw(AmpeStatus::unknown_error), 31);
}

TEST(Status, RawBytesRoundTripAndOverflowToUnknown) {
    for (int raw = 0; raw < 31; ++raw) {
        const auto s = status_from_raw(static_cast<std::uint8_t>(raw));
        EXPECT_EQ(to_raw(s), raw);
    }
    for (int raw = 31; raw < 256; ++raw) {
        EXPECT_EQ(status_from_raw(static_cast<std::uint8_t>(raw)), AmpeStatus::unknown_error) << raw;
    }
}

TEST(Status, NamesAreReadable) {
    EXPECT_EQ(status_name(AmpeStatus::success), "success");
    EXPECT_EQ(status_name(AmpeStatus::not_implemented_yet), "not_implemented_yet");
    EXPECT_EQ(status_name(AmpeStatus::uds_path_not_found), "uds_path_not_found");
    EXPECT_EQ(status_name(AmpeStatus::channel_closed), "channel_closed");
    EXPECT_EQ(status_name(AmpeStatus::unknown_error), "unknown_error");
    EXPECT_EQ(status_name(static_cast<AmpeStatus>(77)), "unknown_error");
    for (int raw = 0; raw < 32; ++raw) {
        EXPECT_FALSE(status_name(static_cast<AmpeStatus>(raw)).empty());
    }
}

TEST(Status, NamesReadBackIntoStatuses) {
    for (int raw = 0; raw < 32; ++raw) {
        const auto status = static_cast<AmpeStatus>(raw);
        EXPECT_EQ(status_from_name(status_name(status)), status) << raw;
    }
    EXPECT_FALSE(status_from_name("").has_value());
    EXPECT_FALSE(status_from_name("Channel_Closed").has_value());
    EXPECT_FALSE(status_from_name("channel_closed ").has_value());
}

TEST(Status, ErrorCategoryAndErrorCode) {
    const std::error_code ec = AmpeStatus::connect_failed;  // implicit: is_error_code_enum
    EXPECT_EQ(ec.value(), 24);
    EXPECT_EQ(&ec.category(), &ampe_category());
    EXPECT_STREQ(ec.category().name(), "tofu");
    EXPECT_EQ(ec.message(), "connect_failed");
    EXPECT_EQ(ec, make_error_code(AmpeStatus::connect_failed));
    EXPECT_NE(ec, make_error_code(AmpeStatus::listen_failed));
    EXPECT_EQ(ampe_category().message(1000), "unknown_error");
}

TEST(Status, ErrorCarriesStatusAndContext) {
    try {
        throw Error{AmpeStatus::invalid_channel_number, "post on channel 9"};
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), make_error_code(AmpeStatus::invalid_channel_number));
        EXPECT_STREQ(e.what(), "post on channel 9: invalid_channel_number");
        const auto* tofu_error = dynamic_cast<const Error*>(&e);
        ASSERT_NE(tofu_error, nullptr);
        EXPECT_EQ(tofu_error->status(), AmpeStatus::invalid_channel_number);
    }
    EXPECT_STREQ(Error{AmpeStatus::pool_empty}.what(), "pool_empty");
}

}  // namespace
}  // namespace tofu

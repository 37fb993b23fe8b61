/// @file
/// The umbrella header: everything an application of tofu needs.
#pragma once

#include <tofu/address.hpp>
#include <tofu/ampe.hpp>
#include <tofu/channel_group.hpp>
#include <tofu/dump.hpp>
#include <tofu/message.hpp>
#include <tofu/options.hpp>
#include <tofu/received.hpp>
#include <tofu/status.hpp>
#include <tofu/stop_signals.hpp>
#include <tofu/stream.hpp>
#include <tofu/version.hpp>

// A hardhat project whose only network is a lanes-validator --dev node at
// LANES_URL, for hardhat-network-helpers (tests/clients/hardhat/helpers.cjs).
module.exports = {
  defaultNetwork: "lanes",
  networks: { lanes: { url: process.env.LANES_URL || "http://127.0.0.1:8545" } },
};

"""The platform's services: ``RUNNABLE`` maps each service name to its nameko class."""

RUNNABLE = {
    "accounts": "services.accounts.service:AccountsService",
    "proposals": "services.proposals.service:ProposalsService",
    "voting": "services.voting.service:VotingService",
    "lobbying": "services.lobbying.service:LobbyingService",
    "commitments": "services.commitments.service:CommitmentsService",
    "notifications": "services.notifications.service:NotificationsService",
}

{{ message_performance('campaign') }}

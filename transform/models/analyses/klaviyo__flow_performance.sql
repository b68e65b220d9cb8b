{{ message_performance('flow') }}

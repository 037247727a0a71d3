print("berth-auth")

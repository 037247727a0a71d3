print("berth-registry")

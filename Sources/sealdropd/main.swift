print("sealdropd")
